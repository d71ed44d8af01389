import BedsideCore
import BedsideSync
import Foundation
import BedsideTestSupport
import Testing

@testable import BedsideServerKit

/// A real server on an ephemeral loopback port with the dev CA, a movable clock and a maildir,
/// and a real TLS client (the app's libcurl transport) that trusts only that CA.
final class TestServer: @unchecked Sendable {
    static let start = Int64(1_795_000_000_000)  // 2026-11-18T...Z
    static let password = LoopbackServer.password

    let clock = ManualClock(epochMilliseconds: TestServer.start)
    let server: LoopbackServer
    let transport: HTTPTransport

    var directory: URL { server.directory }
    var store: any ServerStore { server.store }
    var running: RunningServer { server.running }
    var administration: ServerAdministration { server.administration }
    var baseURL: String { server.url }
    var caFile: String { server.caFile }

    init(rateLimit: RateLimit? = nil, backend: StoreBackend = .sqlite, configure: (inout ServerConfiguration) -> Void = { _ in }) async throws {
        server = try await LoopbackServer(clock: clock, rateLimit: rateLimit, backend: backend, configure: configure)
        transport = HTTPTransport(configuration: TransportConfiguration(caFile: server.caFile))
    }

    func shutdown() async {
        transport.closeConnections()
        await server.stop()
    }

    // MARK: Accounts

    @discardableResult
    func addPatient(_ email: String, name: String = "Test Patient") async throws -> Account {
        try await server.addPatient(email, name: name)
    }

    @discardableResult
    func addClinician(_ email: String, patients: [String] = []) async throws -> Account {
        let account = try await administration.addUser(email: email, role: .clinician, password: Self.password, name: "Nurse Test")
        for patient in patients { try await administration.addTeamMember(clinicianEmail: email, patientEmail: patient) }
        return account
    }

    // MARK: HTTP

    func request(
        _ method: String, _ path: String, token: String? = nil, json: JSONValue? = nil, body: [UInt8]? = nil,
        headers: [(String, String)] = []
    ) async throws -> HTTPResponseData {
        var allHeaders = headers
        if let token { allHeaders.append(("Authorization", "Bearer \(token)")) }
        var payload = body
        if let json { payload = json.serialized() }
        if payload != nil, !allHeaders.contains(where: { $0.0.lowercased() == "content-type" }) {
            allHeaders.append(("Content-Type", "application/fhir+json"))
        }
        return try await transport.send(HTTPRequestSpec(method: method, url: baseURL + path, headers: allHeaders, body: payload))
    }

    /// The newest login code in the maildir.
    func latestCode(for email: String) throws -> String {
        guard let code = server.latestCode(for: email) else { throw TestFailure("no login code mailed to \(email)") }
        return code
    }

    func startLogin(_ email: String, password: String = TestServer.password) async throws -> HTTPResponseData {
        try await request("POST", "/auth/login", json: ["username": .string(email), "password": .string(password)])
    }

    /// A login on a connection of its own: the shared transport sends one request at a time, so tests of
    /// what happens at once use one of these per task.
    func startLoginInParallel(_ email: String, password: String) async throws -> HTTPResponseData {
        let own = HTTPTransport(configuration: TransportConfiguration(caFile: caFile))
        defer { own.closeConnections() }
        let body = JSONValue.object(["username": .string(email), "password": .string(password)]).serialized()
        return try await own.send(HTTPRequestSpec(
            method: "POST", url: baseURL + "/auth/login", headers: [("Content-Type", "application/json")], body: body))
    }

    /// Password, code from the maildir, token.
    func login(_ email: String, password: String = TestServer.password) async throws -> (token: String, answer: JSONValue) {
        let first = try await startLogin(email, password: password)
        guard first.status == 202, let challenge = first.json?["challenge"]?.stringValue else {
            throw TestFailure("login of \(email) answered \(first.status): \(String(decoding: first.body, as: UTF8.self))")
        }
        let second = try await request("POST", "/auth/otp", json: ["challenge": .string(challenge), "code": .string(try latestCode(for: email))])
        guard second.status == 200, let answer = second.json, let token = answer["accessToken"]?.stringValue else {
            throw TestFailure("code for \(email) answered \(second.status)")
        }
        return (token, answer)
    }

    // MARK: FHIR

    func now() -> String { FHIRDateTime.format(epochMilliseconds: clock.now(), utcOffsetSeconds: 3600) }

    func weight(_ kilograms: Double, patientID: String, clientID: String = UUID().uuidString.lowercased(), note: String? = nil) -> JSONValue {
        ObservationBuilder.observation(
            kind: .bodyWeight, values: [.init(part: .bodyWeight, value: kilograms)], effective: now(), patientID: patientID,
            clientID: clientID, note: note)
    }

    func transaction(_ observations: [JSONValue]) -> JSONValue { Self.transaction(observations) }

    /// A transaction Bundle of conditional creates, each on its Observation's identifier.
    static func transaction(_ observations: [JSONValue]) -> JSONValue {
        [
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": .array(observations.map { observation in
                let identifier = observation["identifier"]?.arrayValue?.first?["value"]?.stringValue ?? ""
                return [
                    "fullUrl": .string(identifier),
                    "resource": observation,
                    "request": ["method": "POST", "url": "Observation", "ifNoneExist": .string("identifier=urn:ietf:rfc:3986|\(identifier)")],
                ]
            }),
        ]
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension HTTPResponseData {
    var text: String { String(decoding: body, as: UTF8.self) }
    /// The entries of a Bundle; none when FHIR's no-empty-arrays rule left `entry` out.
    var entries: [JSONValue] { json?["entry"]?.arrayValue ?? [] }
    var issueCode: String? { json?["issue"]?.arrayValue?.first?["code"]?.stringValue }
    var issueExpression: String? { json?["issue"]?.arrayValue?.first?["expression"]?.arrayValue?.first?.stringValue }
}

/// Runs `body` against a fresh server and always shuts it down.
func withServer(
    rateLimit: RateLimit? = nil, backend: StoreBackend = .sqlite, configure: (inout ServerConfiguration) -> Void = { _ in },
    _ body: (TestServer) async throws -> Void
) async throws {
    let server = try await TestServer(rateLimit: rateLimit, backend: backend, configure: configure)
    do {
        try await body(server)
    } catch {
        await server.shutdown()
        throw error
    }
    await server.shutdown()
}
