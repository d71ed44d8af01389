import BedsideCore
import Foundation
import JWTKit

/// An OAuth 2.0 error at the token endpoint (RFC 6749 §5.2), as SMART Backend Services clients expect:
/// `{"error": "...", "error_description": "..."}`, 401 for `invalid_client`, else 400.
public struct OAuthError: Error, Sendable, Equatable {
    public enum Code: String, Sendable {
        case invalidRequest = "invalid_request"
        case invalidClient = "invalid_client"
        case invalidGrant = "invalid_grant"
        case invalidScope = "invalid_scope"
        case unsupportedGrantType = "unsupported_grant_type"
    }

    public var code: Code
    public var description: String
    public var status: Int { code == .invalidClient ? 401 : 400 }

    public var json: JSONValue { ["error": .string(code.rawValue), "error_description": .string(description)] }
}

/// What the token endpoint gives a client that proved who it is.
public struct ClientTokenGrant: Sendable {
    public var accessToken: String
    public var expiresIn: Int
    public var scope: String

    public var json: JSONValue {
        ["access_token": .string(accessToken), "token_type": "bearer", "expires_in": .number(expiresIn), "scope": .string(scope)]
    }
}

/// SMART Backend Services (App Launch 2.x): a registered system proves itself with a JWT it signed
/// (`private_key_jwt`) and gets a short-lived token for the system scopes it asked and was registered for.
public struct BackendServices: Sendable {
    public let store: any ServerStore
    public let clock: any WallClock
    public let auditRecorder: AuditRecorder

    /// How long a token lasts, and the furthest ahead an assertion's `exp` may be (both 5 minutes).
    public static let tokenLifetime: Int64 = 300_000
    public static let maximumAssertionLifetime: Int64 = 300_000
    /// Clocks differ: an `exp` this much further ahead is still taken.
    public static let clockSkew: Int64 = 60_000
    static let assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    static let maximumAssertionBytes = 16 << 10

    public init(store: any ServerStore, clock: any WallClock, auditRecorder: AuditRecorder) {
        self.store = store
        self.clock = clock
        self.auditRecorder = auditRecorder
    }

    /// The claims of a client assertion; checked here against the server's clock, not the library's.
    struct AssertionClaims: JWTPayload {
        var iss: IssuerClaim
        var sub: SubjectClaim
        var aud: AudienceClaim
        var exp: ExpirationClaim
        var jti: IDClaim

        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    /// `POST /auth/token` with a form: `grant_type=client_credentials`, `scope`, `client_assertion_type`,
    /// `client_assertion`. `tokenURL` is this endpoint's own address, which the assertion's `aud` must name.
    public func issueToken(form: [(String, String)], tokenURL: String, remoteAddress: String?, request: String) async throws(OAuthError)
        -> ClientTokenGrant
    {
        let now = clock.now()
        var clientID: String?
        do throws(OAuthError) {
            let grant = try await issue(form: form, tokenURL: tokenURL, now: now, clientID: &clientID)
            let recorded = await auditRecorder.record(AuditEvent(
                at: now, actorID: clientID, actorRole: "system", action: "token", outcome: "success", httpStatus: 200,
                remoteAddress: remoteAddress, request: request))
            guard recorded else { throw OAuthError(code: .invalidRequest, description: "The server could not record this; try again.") }
            return grant
        } catch {
            await auditRecorder.record(AuditEvent(
                at: now, actorID: clientID, actorRole: "system", action: "token-refused", outcome: "failure", httpStatus: error.status,
                remoteAddress: remoteAddress, request: request))
            throw error
        }
    }

    private func issue(form: [(String, String)], tokenURL: String, now: Int64, clientID: inout String?) async throws(OAuthError)
        -> ClientTokenGrant
    {
        func field(_ name: String) throws(OAuthError) -> String? {
            let values = form.filter { $0.0 == name }.map(\.1)
            guard values.count <= 1 else { throw OAuthError(code: .invalidRequest, description: "\(name) is given more than once.") }
            return values.first
        }
        guard let grantType = try field("grant_type") else {
            throw OAuthError(code: .invalidRequest, description: "grant_type is required (client_credentials).")
        }
        guard grantType == "client_credentials" else {
            throw OAuthError(code: .unsupportedGrantType, description: "Only grant_type=client_credentials is supported.")
        }
        guard try field("client_assertion_type") == Self.assertionType else {
            throw OAuthError(code: .invalidRequest, description: "client_assertion_type must be \(Self.assertionType).")
        }
        guard let assertion = try field("client_assertion"), !assertion.isEmpty else {
            throw OAuthError(code: .invalidRequest, description: "client_assertion (a signed JWT) is required.")
        }
        guard let scopeText = try field("scope"), !scopeText.isEmpty else {
            throw OAuthError(code: .invalidRequest, description: "scope is required, e.g. system/Observation.rs.")
        }
        guard assertion.utf8.count <= Self.maximumAssertionBytes else {
            throw OAuthError(code: .invalidClient, description: "The client assertion is too large.")
        }

        // The header says which key and algorithm; the unverified payload which client, to find its keys.
        let parts = assertion.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let header = ClientKeys.base64URLDecoded(String(parts[0])).flatMap(JSONParser.parseOrNil),
            let claimed = ClientKeys.base64URLDecoded(String(parts[1])).flatMap(JSONParser.parseOrNil)
        else { throw OAuthError(code: .invalidClient, description: "The client assertion is not a signed JWT (header.payload.signature).") }
        guard let algorithm = header["alg"]?.stringValue, ClientKeys.algorithms.contains(algorithm) else {
            throw OAuthError(code: .invalidClient, description: "The assertion must be signed with ES384 or RS384.")
        }
        guard let kid = header["kid"]?.stringValue, !kid.isEmpty else {
            throw OAuthError(code: .invalidClient, description: "The assertion's header needs the kid of the key that signed it.")
        }
        guard let issuer = claimed["iss"]?.stringValue, !issuer.isEmpty, issuer.utf8.count <= 200, !issuer.containsControlCharacters else {
            throw OAuthError(code: .invalidClient, description: "The assertion needs iss, the client_id.")
        }
        if let given = try field("client_id"), given != issuer {
            throw OAuthError(code: .invalidClient, description: "client_id does not match the assertion's iss.")
        }
        let client: BackendClient?
        do {
            client = try await store.read { db in try db.backendClient(id: issuer) }
        } catch {
            throw OAuthError(code: .invalidRequest, description: "The server could not check the client; try again.")
        }
        guard let client, client.disabledAt == nil else {
            throw OAuthError(code: .invalidClient, description: "No client is registered as '\(issuer.prefix(60))', or it is disabled.")
        }
        clientID = client.id
        let keys: [String: JSONValue]
        do { keys = try ClientKeys.validate(client.jwks) } catch {
            throw OAuthError(code: .invalidClient, description: "The client's registered keys cannot be used: \(error.description)")
        }
        guard let key = keys[kid], ClientKeys.algorithm(of: key) == algorithm else {
            throw OAuthError(code: .invalidClient, description: "No \(algorithm) key with kid '\(kid.prefix(60))' is registered for this client.")
        }
        let claims: AssertionClaims
        do {
            claims = try await ClientKeys.collection(for: key, kid: kid).verify(assertion, as: AssertionClaims.self)
        } catch {
            throw OAuthError(code: .invalidClient, description: "The assertion's signature does not verify with the registered key '\(kid.prefix(60))'.")
        }
        guard claims.iss.value == client.id, claims.sub.value == client.id else {
            throw OAuthError(code: .invalidClient, description: "iss and sub must both be the client_id.")
        }
        guard claims.aud.value.contains(tokenURL) else {
            throw OAuthError(code: .invalidClient, description: "aud must be this token endpoint, \(tokenURL).")
        }
        let expires = claims.exp.value.timeIntervalSince1970 * 1000
        guard expires.isFinite, expires > Double(now) else {
            throw OAuthError(code: .invalidGrant, description: "The assertion has expired.")
        }
        guard expires <= Double(now + Self.maximumAssertionLifetime + Self.clockSkew) else {
            throw OAuthError(code: .invalidGrant, description: "The assertion's exp is more than 5 minutes ahead.")
        }
        let jti = claims.jti.value
        guard !jti.isEmpty, jti.utf8.count <= 255, !jti.containsControlCharacters else {
            throw OAuthError(code: .invalidGrant, description: "The assertion needs a jti (unique, at most 255 characters, no control characters).")
        }

        let registered = (try? SMARTScopes.parse(client.scopes, strict: true)) ?? SMARTScopes(scopes: [])
        let asked: SMARTScopes
        do { asked = try SMARTScopes.parse(scopeText, strict: false) } catch {
            throw OAuthError(code: .invalidScope, description: error.description)
        }
        let granted = registered.granting(asked)
        guard !granted.scopes.isEmpty else {
            throw OAuthError(
                code: .invalidScope,
                description: "None of the scopes asked is registered for this client (registered: \(client.scopes.prefix(300))).")
        }

        let token = Secrets.randomToken()
        let record = ClientToken(
            tokenHash: Secrets.sha256Hex(token), clientID: client.id, scopes: granted.description, createdAt: now,
            expiresAt: now + Self.tokenLifetime)
        let assertionExpiry = Int64(expires)
        let fresh: Bool
        do {
            fresh = try await store.write { db in
                guard try db.recordAssertion(clientID: client.id, jti: jti, expiresAt: assertionExpiry) else { return false }
                try db.insert(record)
                return true
            }
        } catch {
            throw OAuthError(code: .invalidRequest, description: "The server could not issue a token; try again.")
        }
        guard fresh else { throw OAuthError(code: .invalidGrant, description: "This assertion (its jti) was used before; sign a new one.") }
        return ClientTokenGrant(accessToken: token, expiresIn: Int(Self.tokenLifetime / 1000), scope: granted.description)
    }

    /// `/.well-known/smart-configuration` (App Launch 2.x §Conformance): where and how to get a token.
    public static func configuration(tokenURL: String) -> JSONValue {
        [
            "token_endpoint": .string(tokenURL),
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": .array(ClientKeys.algorithms.map(JSONValue.string)),
            "grant_types_supported": ["client_credentials"],
            "scopes_supported": .array(
                (["*"] + SupportedResource.allCases.map(\.rawValue)).flatMap { type in ["system/\(type).rs", "system/\(type).cruds", "system/\(type).read"] }
                    .map(JSONValue.string)),
            "capabilities": ["client-confidential-asymmetric", "permission-v1", "permission-v2"],
        ]
    }
}
