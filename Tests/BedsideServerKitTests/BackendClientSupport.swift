import BedsideCore
import BedsideSync
import BedsideTestSupport
import Foundation

@testable import BedsideServerKit

extension TestServer {
    var tokenURL: String { baseURL + "/auth/token" }

    /// Registers the EMR with `scopes` and returns its client_id.
    func register(_ emr: TestEMR, scopes: String, name: String = "Test EMR") async throws -> String {
        try await administration.addClient(name: name, jwks: emr.jwks, scopes: scopes).id
    }

    /// Asks the token endpoint; the answer as it came.
    func requestToken(_ body: [UInt8]) async throws -> HTTPResponseData {
        try await request("POST", "/auth/token", body: body, headers: [("Content-Type", "application/x-www-form-urlencoded")])
    }

    /// A token for the EMR, or a test failure.
    func systemToken(_ emr: TestEMR, clientID: String, scope: String) async throws -> String {
        let assertion = try await emr.assertion(clientID: clientID, audience: tokenURL, now: clock.now())
        let answer = try await requestToken(TestEMR.form(assertion: assertion, scope: scope))
        guard answer.status == 200, let token = answer.json?["access_token"]?.stringValue else {
            throw TestFailure("token request answered \(answer.status): \(String(decoding: answer.body, as: UTF8.self))")
        }
        return token
    }
}
