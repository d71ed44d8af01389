import BedsideCore
import Foundation

/// Why a request to the server did not succeed, with what the patient should read.
public enum APIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No answer: the network, TLS verification, timeouts.
    case transport(TransportError)
    /// The server answered with an error: its status, its OperationOutcome code and message.
    case refused(status: Int, code: String, message: String, retryAfter: Int?)
    /// The answer could not be understood.
    case invalidResponse(String)

    public var description: String {
        switch self {
        case .transport(let error): error.description
        case .refused(_, _, let message, _): message
        case .invalidResponse(let detail): "The server's answer could not be read (\(detail))."
        }
    }

    /// True when nothing reached the server or came back: worth retrying later, and the app is offline.
    public var isOffline: Bool {
        if case .transport(let error) = self {
            switch error {
            case .unreachable, .timedOut: return true
            default: return false
            }
        }
        return false
    }

    /// The server is overloaded or failing (5xx, 429, 408): worth trying again, not sooner than `retryAfter`.
    public var isServerBusy: Bool {
        guard case .refused(let status, _, _, _) = self else { return false }
        return status == 429 || status == 408 || (500...599).contains(status)
    }

    /// The server no longer accepts the session (401): the patient must log in again.
    public var endsSession: Bool {
        if case .refused(401, _, _, _) = self { return true }
        return false
    }

    /// The server's `Retry-After`, in seconds, when it sent one.
    public var retryAfter: Int? {
        if case .refused(_, _, _, let seconds) = self { return seconds }
        return nil
    }
}

/// What the server grants after the code: the session.
public struct SessionGrant: Sendable, Equatable {
    public var accessToken: String
    public var role: String
    public var patientID: String?
    public var practitionerID: String?
    public var idleTimeoutSeconds: Int
}

/// The client side of DESIGN.md's server API.
public struct BedsideAPI: Sendable {
    public let server: String
    let transport: HTTPTransport

    /// `server` is the base URL, e.g. `https://127.0.0.1:8443`; a trailing `/fhir` or `/` is tolerated.
    public init(server: String, transport: HTTPTransport) {
        var base = server.trimmingCharacters(in: .whitespaces)
        while base.hasSuffix("/") { base.removeLast() }
        if base.hasSuffix("/fhir") { base.removeLast(5) }
        self.server = base
        self.transport = transport
    }

    public func send(_ method: String, _ path: String, json: JSONValue? = nil, token: String? = nil, headers: [(String, String)] = [])
        async throws(APIError) -> HTTPResponseData
    {
        var allHeaders = headers + [("Accept", "application/fhir+json")]
        if let token { allHeaders.append(("Authorization", "Bearer \(token)")) }
        if json != nil { allHeaders.append(("Content-Type", "application/fhir+json")) }
        do {
            return try await transport.send(HTTPRequestSpec(method: method, url: server + path, headers: allHeaders, body: json?.serialized()))
        } catch {
            throw .transport(error)
        }
    }

    /// Turns an error answer into `APIError.refused` with the server's own message.
    public static func refusal(_ response: HTTPResponseData) -> APIError {
        let outcome = response.json.flatMap(OperationOutcome.init(json:))
        let first = outcome?.issues.first
        var message = first?.diagnostics ?? "The server answered \(response.status)."
        if let expression = first?.expression { message += " (\(expression))" }
        return .refused(
            status: response.status, code: first?.code ?? "unknown", message: message,
            retryAfter: response.header("retry-after").flatMap(RetryAfter.seconds))
    }

    /// Password step: the server e-mails a code and answers with a challenge id.
    /// `language` (en, nl, de) asks for the e-mail in the patient's language (`Accept-Language`).
    public func requestCode(email: String, password: String, language: String? = nil) async throws(APIError) -> String {
        let response = try await send(
            "POST", "/auth/login", json: ["username": .string(email), "password": .string(password)],
            headers: language.map { [("Accept-Language", $0)] } ?? [])
        guard response.status == 202 else { throw Self.refusal(response) }
        guard let challenge = response.json?["challenge"]?.stringValue else { throw .invalidResponse("no challenge") }
        return challenge
    }

    /// Code step: the session.
    public func verifyCode(challenge: String, code: String) async throws(APIError) -> SessionGrant {
        try Self.session(from: try await send("POST", "/auth/otp", json: ["challenge": .string(challenge), "code": .string(code)]))
    }

    /// An invited patient's enrolment: the e-mailed code and a new password; the session.
    public func enrol(email: String, code: String, password: String) async throws(APIError) -> SessionGrant {
        try Self.session(from: try await send(
            "POST", "/auth/enrol", json: ["username": .string(email), "code": .string(code), "password": .string(password)]))
    }

    /// The session `/auth/otp` and `/auth/enrol` answer.
    static func session(from response: HTTPResponseData) throws(APIError) -> SessionGrant {
        guard response.status == 200 else { throw Self.refusal(response) }
        guard let json = response.json, let token = json["accessToken"]?.stringValue, let role = json["role"]?.stringValue else {
            throw .invalidResponse("no access token")
        }
        return SessionGrant(
            accessToken: token, role: role, patientID: json["patient"]?.stringValue, practitionerID: json["practitioner"]?.stringValue,
            idleTimeoutSeconds: json["idleTimeout"]?.intValue ?? 1800)
    }

    /// Ends the session on the server at once.
    public func logout(token: String) async throws(APIError) {
        let response = try await send("POST", "/auth/logout", token: token)
        // 401: the session had already ended, which is what logging out wants.
        guard response.status == 204 || response.status == 401 else { throw Self.refusal(response) }
    }

    /// A resource by type and id.
    public func read(_ type: String, id: String, token: String) async throws(APIError) -> JSONValue {
        let response = try await send("GET", "/fhir/\(type)/\(id)", token: token)
        guard response.status == 200, let json = response.json else { throw Self.refusal(response) }
        return json
    }
}
