import Crypto
import CryptoExtras
import Foundation

/// scrypt password hashes in a self-describing string: `$scrypt$ln=15,r=8,p=1$<salt>$<hash>`.
///
/// The parameters travel with each hash so they can be raised later without breaking old accounts;
/// tests pass cheaper ones explicitly.
public struct PasswordHasher: Sendable {
    /// log2 of scrypt's N.
    public let logRounds: Int
    public let blockSize: Int
    public let parallelism: Int

    /// N = 2^17, r = 8, p = 1 (OWASP's minimum for scrypt): about 0.25 s per hash in a release build,
    /// 128 MiB of memory. Hashes made with the earlier 2^15 still verify: their parameters travel with them.
    public static let standard = PasswordHasher(logRounds: 17, blockSize: 8, parallelism: 1)
    /// For tests only: fast, and far too weak for real passwords.
    public static let testing = PasswordHasher(logRounds: 10, blockSize: 8, parallelism: 1)

    public init(logRounds: Int, blockSize: Int, parallelism: Int) {
        self.logRounds = logRounds
        self.blockSize = blockSize
        self.parallelism = parallelism
    }

    public func hash(_ password: String) throws -> String {
        var salt = [UInt8](repeating: 0, count: 16)
        var generator = SystemRandomNumberGenerator()
        for index in salt.indices { salt[index] = generator.next() }
        let derived = try Self.derive(password, salt: salt, logRounds: logRounds, blockSize: blockSize, parallelism: parallelism)
        return "$scrypt$ln=\(logRounds),r=\(blockSize),p=\(parallelism)$\(Data(salt).base64EncodedString())$\(Data(derived).base64EncodedString())"
    }

    /// Whether `password` matches `encoded`. Runs in the same time whether or not it matches.
    public func verify(_ password: String, against encoded: String) -> Bool {
        let parts = encoded.split(separator: "$", omittingEmptySubsequences: true)
        guard parts.count == 4, parts[0] == "scrypt" else { return false }
        var parameters: [String: Int] = [:]
        for pair in parts[1].split(separator: ",") {
            let keyValue = pair.split(separator: "=")
            if keyValue.count == 2, let value = Int(keyValue[1]) { parameters[String(keyValue[0])] = value }
        }
        guard let ln = parameters["ln"], let r = parameters["r"], let p = parameters["p"], (1...20).contains(ln),
            let salt = Data(base64Encoded: String(parts[2])), let expected = Data(base64Encoded: String(parts[3])),
            let derived = try? Self.derive(password, salt: Array(salt), logRounds: ln, blockSize: r, parallelism: p)
        else { return false }
        return ConstantTime.equal(derived, Array(expected))
    }

    /// Whether `encoded` was made with this hasher's parameters (else it is replaced at the next login).
    public func isCurrent(_ encoded: String) -> Bool {
        encoded.hasPrefix("$scrypt$ln=\(logRounds),r=\(blockSize),p=\(parallelism)$")
    }

    /// Burns the same time as `verify` for a name that has no account, so timing tells nothing.
    public func verifyAgainstNothing(_ password: String) {
        _ = try? Self.derive(password, salt: Array(repeating: 0, count: 16), logRounds: logRounds, blockSize: blockSize, parallelism: parallelism)
    }

    private static func derive(_ password: String, salt: [UInt8], logRounds: Int, blockSize: Int, parallelism: Int) throws -> [UInt8] {
        let key = try KDF.Scrypt.deriveKey(
            from: Array(password.utf8), salt: salt, outputByteCount: 32, rounds: 1 << logRounds, blockSize: blockSize,
            parallelism: parallelism)
        return key.withUnsafeBytes { Array($0) }
    }
}

/// Comparisons whose time does not depend on where the inputs differ.
enum ConstantTime {
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}

/// Random secrets and their hashes.
public enum Secrets {
    /// `count` bytes from the system's cryptographic generator, base64url without padding.
    public static func randomToken(bytes count: Int = 32) -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// `count` random bytes as lower-case hex (an export job's id).
    public static func randomHex(bytes count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in
            let byte = UInt8.random(in: .min ... .max, using: &generator)
            return (byte < 16 ? "0" : "") + String(byte, radix: 16)
        }.joined()
    }

    /// A uniformly random six-digit code, leading zeros kept.
    public static func oneTimeCode() -> String {
        var generator = SystemRandomNumberGenerator()
        let value = Int.random(in: 0..<1_000_000, using: &generator)
        let digits = String(value)
        return String(repeating: "0", count: 6 - digits.count) + digits
    }

    /// Lower-case hex SHA-256 of a string.
    public static func sha256Hex(_ text: String) -> String {
        SHA256.hash(data: Array(text.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}
