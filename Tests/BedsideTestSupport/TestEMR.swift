import Foundation
import JWTKit

/// An EMR as a test (or `bedside-bench export`) plays it: its own ES384 key pair (the public half registered as a JWKS), and
/// client assertions signed the way SMART Backend Services asks.
public struct TestEMR: Sendable {
    public let key = ES384PrivateKey()
    public let kid: String

    public init(kid: String = "emr-key-1") { self.kid = kid }

    /// The JWKS to register: the public key only.
    public var jwks: String {
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
    public func assertion(clientID: String, audience: String, now: Int64, lifetime: Double = 240, jti: String = UUID().uuidString, kid: String? = nil)
        async throws -> String
    {
        let claims = Claims(
            iss: .init(value: clientID), sub: .init(value: clientID), aud: .init(value: [audience]),
            exp: .init(value: Date(timeIntervalSince1970: Double(now) / 1000 + lifetime)), jti: .init(value: jti))
        let keys = await JWTKeyCollection().add(ecdsa: key, kid: JWKIdentifier(string: kid ?? self.kid))
        return try await keys.sign(claims, kid: JWKIdentifier(string: kid ?? self.kid))
    }

    /// The token request's form body.
    public static func form(assertion: String, scope: String, grantType: String = "client_credentials") -> [UInt8] {
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
