import Crypto
import Foundation

/// The keys that keep the server's data unreadable at rest.
///
/// One random 256-bit data key per database, stored in it only wrapped (AES-256-GCM) by the master key
/// from `--master-key-file`. The keys actually used are derived from it (HKDF-SHA256), one per purpose:
/// resource bodies and personal fields are sealed with AES-256-GCM under `bodies` (a random 96-bit nonce
/// each, the row's identity as associated data so a sealed value cannot be moved to another row); values
/// looked up by equality (an account's e-mail, a login throttle's key) are kept as HMAC-SHA256 under
/// `index`; the audit chain has `audit`; search cursors in next links are sealed under `cursors`. Rotating the master key re-wraps the data key, so nothing
/// stored has to be written again.
public struct StoreKeys: Sendable {
    /// The sealed format's first byte; a later format gets another.
    static let formatV1: UInt8 = 1

    let bodies: SymmetricKey
    let index: SymmetricKey
    /// The key of the audit trail's chained HMACs.
    public let audit: SymmetricKey
    /// The key that seals search cursors (`SearchCursor`), whatever `sealsBodies` says.
    let cursors: SymmetricKey
    /// False only in the benchmark's plaintext baseline (`StoreEncryption.plaintextBodiesForBenchmark`).
    let sealsBodies: Bool

    init(dataKey: SymmetricKey, sealsBodies: Bool = true) {
        func derive(_ purpose: String) -> SymmetricKey {
            HKDF<SHA256>.deriveKey(inputKeyMaterial: dataKey, info: Array("bedside \(purpose) v1".utf8), outputByteCount: 32)
        }
        bodies = derive("sealed fields")
        index = derive("blind index")
        audit = derive("audit chain")
        cursors = derive("search cursor")
        self.sealsBodies = sealsBodies
    }

    /// `plaintext` sealed for the row named by `context` (e.g. `Observation/<id>/3`).
    func seal(_ plaintext: [UInt8], context: String) throws -> Data {
        guard sealsBodies else { return Data(plaintext) }
        let box = try AES.GCM.seal(plaintext, using: bodies, authenticating: Array(context.utf8))
        guard let combined = box.combined else { throw StoreEncryptionError.damaged(context) }
        var sealed = Data(capacity: combined.count + 1)
        sealed.append(Self.formatV1)
        sealed.append(combined)
        return sealed
    }

    func seal(_ text: String, context: String) throws -> Data {
        try seal(Array(text.utf8), context: context)
    }

    /// The plaintext of a value sealed for `context`; throws when it was altered, moved from another
    /// row, sealed under another key or never sealed at all.
    func open(_ sealed: Data, context: String) throws(StoreEncryptionError) -> [UInt8] {
        guard sealsBodies else { return Array(sealed) }
        guard sealed.first == Self.formatV1 else { throw .damaged(context) }
        do {
            let box = try AES.GCM.SealedBox(combined: sealed.dropFirst())
            return Array(try AES.GCM.open(box, using: bodies, authenticating: Array(context.utf8)))
        } catch {
            throw .damaged(context)
        }
    }

    func openText(_ sealed: Data, context: String) throws(StoreEncryptionError) -> String {
        String(decoding: try open(sealed, context: context), as: UTF8.self)
    }

    /// A keyed hash of `value` for lookups by equality (lower-case hex); without the key it tells nothing
    /// about the value, not even by trying a dictionary of e-mail addresses.
    func blindIndex(_ value: String) -> String {
        HMAC<SHA256>.authenticationCode(for: Array(value.utf8), using: index).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    // MARK: The data key, wrapped

    static let wrapContext = Array("bedside data key v1".utf8)

    /// A new random data key, and it wrapped under `master`.
    static func newDataKey(wrappedBy master: SymmetricKey) throws -> (key: SymmetricKey, wrapped: Data) {
        let key = SymmetricKey(size: .bits256)
        return (key, try wrap(key, under: master))
    }

    static func wrap(_ dataKey: SymmetricKey, under master: SymmetricKey) throws -> Data {
        let box = try dataKey.withUnsafeBytes { bytes in try AES.GCM.seal(Array(bytes), using: master, authenticating: wrapContext) }
        guard let combined = box.combined else { throw StoreEncryptionError.damaged("the wrapped data key") }
        return combined
    }

    /// The data key inside `wrapped`, or nil when `master` is not the key it was wrapped with.
    static func unwrap(_ wrapped: Data, with master: SymmetricKey) -> SymmetricKey? {
        guard let box = try? AES.GCM.SealedBox(combined: wrapped),
            let bytes = try? AES.GCM.open(box, using: master, authenticating: wrapContext), bytes.count == 32
        else { return nil }
        return SymmetricKey(data: bytes)
    }
}

/// Why the store's keys could not be had or a sealed value could not be opened; each case says what
/// the administrator should do.
public enum StoreEncryptionError: Error, Equatable, CustomStringConvertible {
    case missingKeyFile(path: String, fingerprint: String)
    case keyFileUnreadable(path: String, reason: String)
    case keyFileNotPrivate(path: String, mode: String)
    case keyFileMalformed(path: String)
    case keyFileExists(path: String)
    case wrongKey(path: String, expected: String, given: String)
    case sameKey(path: String)
    case plaintextBaselineOnEncryptedStore
    case damaged(String)

    public var description: String {
        switch self {
        case .missingKeyFile(let path, let fingerprint):
            "The database is encrypted and its master key file \(path) does not exist. Give the key it was made with "
                + "(fingerprint \(fingerprint)) with --master-key-file; without it the data cannot be read."
        case .keyFileUnreadable(let path, let reason):
            "The master key file \(path) cannot be read: \(reason)."
        case .keyFileNotPrivate(let path, let mode):
            "The master key file \(path) can be read by other users (mode \(mode)); make it private with chmod 600 \(path)."
        case .keyFileMalformed(let path):
            "\(path) is not a Bedside master key file (one line: bedside-master-key-v1: and 32 bytes in base64)."
        case .keyFileExists(let path):
            "\(path) already exists; a key file is never overwritten. Choose another name or remove it yourself."
        case .wrongKey(let path, let expected, let given):
            "The master key in \(path) (fingerprint \(given)) does not open this database; it needs the key with fingerprint "
                + "\(expected). Nothing was changed."
        case .sameKey(let path):
            "The key in \(path) is the one already in use; rotating needs a new key."
        case .plaintextBaselineOnEncryptedStore:
            "This database is encrypted; the plaintext benchmark baseline needs a database of its own."
        case .damaged(let what):
            "Stored data failed its integrity check (\(what)): it was altered, or sealed under another key."
        }
    }
}
