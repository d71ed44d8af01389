import BedsideCore
import BedsideSync
import BedsideTestSupport
import Foundation
import JWTKit

@testable import BedsideServerKit

/// An EMR as a test plays it: its own ES384 key pair (the public half registered as a JWKS), and
/// client assertions signed the way SMART Backend Services asks.
struct TestEMR {
    let key = ES384PrivateKey()
    let kid: String

    init(kid: String = "emr-key-1") { self.kid = kid }

    /// The JWKS to register: the public key only.
    var jwks: String {
        let (x, y) = key.publicKey.parameters ?? ("", "")
        return #"{"keys":[{"kty":"EC","crv":"P-384","x":"\#(x)","y":"\#(y)","kid":"\#(kid)","use":"sig","alg":"ES384"}]}"#
    }

    struct Claims: JWTPayload {
        var iss: IssuerClaim
        var sub: SubjectClaim
        var aud: AudienceClaim
        var exp: ExpirationClaim
        var jti: IDClaim
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    /// A signed assertion; `now` is the server's clock (epoch ms), `lifetime` in seconds.
    func assertion(clientID: String, audience: String, now: Int64, lifetime: Double = 240, jti: String = UUID().uuidString, kid: String? = nil)
        async throws -> String
    {
        let claims = Claims(
            iss: .init(value: clientID), sub: .init(value: clientID), aud: .init(value: [audience]),
            exp: .init(value: Date(timeIntervalSince1970: Double(now) / 1000 + lifetime)), jti: .init(value: jti))
        let keys = await JWTKeyCollection().add(ecdsa: key, kid: JWKIdentifier(string: kid ?? self.kid))
        return try await keys.sign(claims, kid: JWKIdentifier(string: kid ?? self.kid))
    }

    /// The token request's form body.
    static func form(assertion: String, scope: String, grantType: String = "client_credentials") -> [UInt8] {
        func encode(_ text: String) -> String {
            text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
        }
        let pairs = [
            ("grant_type", grantType), ("scope", scope),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"), ("client_assertion", assertion),
        ]
        return Array(pairs.map { "\($0.0)=\(encode($0.1))" }.joined(separator: "&").utf8)
    }
}

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
