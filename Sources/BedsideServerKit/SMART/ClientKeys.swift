import BedsideCore
import Foundation
import JWTKit

/// A backend client's public keys (a JWKS), as registered with `client add --jwks-file`: each an EC P-384
/// key for ES384 or an RSA key of 2048 bits or more for RS384, with a unique `kid` and no private part.
/// Assertions are checked only against these, each key only with its own algorithm.
enum ClientKeys {
    /// The algorithms the token endpoint takes (SMART Backend Services requires both).
    static let algorithms = ["ES384", "RS384"]
    static let maximumKeys = 20
    static let maximumBytes = 64 << 10

    struct Refusal: Error, Sendable, CustomStringConvertible {
        var description: String
    }

    /// The keys of a JWKS file, checked; what is stored is the set as given.
    static func validate(_ text: String) throws(Refusal) -> [String: JSONValue] {
        guard text.utf8.count <= maximumBytes, let jwks = JSONParser.parseOrNil(Array(text.utf8)) else {
            throw Refusal(description: "The JWKS is not JSON (or is larger than \(maximumBytes / 1024) KB).")
        }
        guard let keys = jwks["keys"]?.arrayValue, !keys.isEmpty else {
            throw Refusal(description: "The JWKS has no keys: it needs {\"keys\": [ ... ]} with the client's public keys.")
        }
        guard keys.count <= maximumKeys else { throw Refusal(description: "The JWKS holds \(keys.count) keys; at most \(maximumKeys).") }
        var byID: [String: JSONValue] = [:]
        for (index, key) in keys.enumerated() {
            guard let kid = key["kid"]?.stringValue, !kid.isEmpty, kid.utf8.count <= 200 else {
                throw Refusal(description: "Key \(index + 1) has no kid; each key needs one, as the assertions name it.")
            }
            guard byID[kid] == nil else { throw Refusal(description: "Two keys have the kid '\(kid.prefix(60))'.") }
            for secret in ["d", "p", "q", "dp", "dq", "qi", "k"] where key[secret] != nil {
                throw Refusal(description: "Key '\(kid.prefix(60))' holds a private part ('\(secret)'): register the public key only.")
            }
            if let use = key["use"]?.stringValue, use != "sig" {
                throw Refusal(description: "Key '\(kid.prefix(60))' is for '\(use.prefix(20))'; it must be a signing key (use sig).")
            }
            guard let algorithm = algorithm(of: key) else {
                throw Refusal(description: "Key '\(kid.prefix(60))' is neither an EC P-384 key (ES384) nor an RSA key (RS384).")
            }
            if let given = key["alg"]?.stringValue, given != algorithm {
                throw Refusal(description: "Key '\(kid.prefix(60))' says alg \(given.prefix(20)); this server takes \(algorithm) for such a key.")
            }
            if algorithm == "RS384" {
                let modulusBits = (Self.base64URLDecoded(key["n"]?.stringValue ?? "")?.drop { $0 == 0 }.count ?? 0) * 8
                guard modulusBits >= 2048 else { throw Refusal(description: "Key '\(kid.prefix(60))' is an RSA key of \(modulusBits) bits; at least 2048.") }
            }
            byID[kid] = key
        }
        return byID
    }

    /// The one algorithm a key is used with: ES384 for EC P-384, RS384 for RSA; nil for any other.
    static func algorithm(of key: JSONValue) -> String? {
        switch (key["kty"]?.stringValue, key["crv"]?.stringValue) {
        case ("EC", "P-384"): key["x"]?.stringValue != nil && key["y"]?.stringValue != nil ? "ES384" : nil
        case ("RSA", _): key["n"]?.stringValue != nil && key["e"]?.stringValue != nil ? "RS384" : nil
        default: nil
        }
    }

    /// A key collection that verifies with `key` only, pinned to its algorithm.
    static func collection(for key: JSONValue, kid: String) async throws -> JWTKeyCollection {
        guard var object = key.objectValue, let algorithm = algorithm(of: key) else { throw Refusal(description: "unusable key") }
        object["alg"] = .string(algorithm)
        object["kid"] = .string(kid)
        let jwks = JSONValue.object(["keys": .array([.object(object)])]).serializedString()
        return try await JWTKeyCollection().add(jwksJSON: jwks)
    }

    static func base64URLDecoded(_ text: String) -> [UInt8]? {
        guard text.utf8.count <= 16_384 else { return nil }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.utf8.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64).map(Array.init)
    }
}
