import Foundation

/// The data key, encrypted under a key derived from the password: the only form in which it touches disk.
///
/// Stored as a small JSON file (`vault.key`, mode 0600). Without the password it is useless; at logout
/// it is overwritten and deleted, which makes every sealed value in the database unreadable for good.
public struct WrappedKey: Sendable, Equatable, Codable {
    public static let currentFormat = 1

    public var format: Int
    public var kdf: KDFParameters
    /// 16 random bytes, base64.
    public var salt: String
    /// AES-256-GCM combined form (nonce, ciphertext, tag) of the 32-byte data key, base64.
    public var sealedKey: String

    public func encoded() throws(VaultError) -> Data {
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            return try encoder.encode(self)
        } catch {
            throw .system("The key could not be written: \(error)")
        }
    }

    public static func decode(_ data: Data) throws(VaultError) -> WrappedKey {
        let key: WrappedKey
        do {
            key = try JSONDecoder().decode(WrappedKey.self, from: data)
        } catch {
            throw .corruptKeyFile("not a Bedside key file")
        }
        guard key.format == currentFormat else { throw .corruptKeyFile("format \(key.format) is not supported") }
        guard key.kdf.isSane else { throw .corruptKeyFile("implausible key-derivation parameters") }
        return key
    }
}
