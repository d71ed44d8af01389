import Crypto
import CryptoExtras

/// scrypt cost parameters, stored beside each wrapped key so they can be raised later.
public struct KDFParameters: Sendable, Equatable, Codable {
    /// log2 of N.
    public var logN: Int
    public var r: Int
    public var p: Int

    /// DESIGN.md: N = 2^17, r = 8, p = 1 (about 0.25 s in a release build, 128 MiB).
    public static let standard = KDFParameters(logN: 17, r: 8, p: 1)
    /// Cheap parameters for tests only.
    public static let testing = KDFParameters(logN: 10, r: 8, p: 1)

    public init(logN: Int, r: Int, p: Int) {
        self.logN = logN
        self.r = r
        self.p = p
    }

    /// Refuses parameters a tampered key file could use to make unlocking hang or trivially cheap to attack.
    var isSane: Bool { (10...22).contains(logN) && (1...32).contains(r) && (1...16).contains(p) }

    /// The key-encryption key for a password.
    func deriveKey(password: String, salt: [UInt8]) throws(VaultError) -> SymmetricKey {
        do {
            return try KDF.Scrypt.deriveKey(
                from: Array(password.utf8), salt: salt, outputByteCount: 32, rounds: 1 << logN, blockSize: r, parallelism: p,
                maxMemory: 128 * (1 << logN) * r * p + 64 * 1024 * 1024)
        } catch {
            throw .system("The key could not be derived: \(error)")
        }
    }
}
