import Crypto
import Foundation
import Synchronization

/// The purposes a key is derived for; each gets its own key so that one use can never be mistaken for another.
public enum KeyPurpose: String, Sendable, CaseIterable {
    /// Sealing sensitive columns.
    case columns = "bedside.columns.v1"
    /// Blind indexes (keyed hashes) of values that must be searched, such as the measurement kind.
    case blindIndex = "bedside.blind-index.v1"
}

/// The one owner of the data key (DEK) while the vault is unlocked.
///
/// The key lives in a page of memory this type allocates and wipes itself; `lock()` wipes it, and so
/// does deinit. Everything sealed goes through here, so a locked vault can seal and open nothing.
public final class KeyVault: Sendable {
    private struct Keys {
        var dataKey: UnsafeMutableRawBufferPointer
        var columns: SymmetricKey
        var blindIndex: SymmetricKey
    }

    private let keys: Mutex<Keys?>

    private init(dataKey bytes: [UInt8]) {
        keys = Mutex(KeyVault.makeKeys(bytes))
    }

    deinit {
        lock()
    }

    private static func makeKeys(_ bytes: [UInt8]) -> Keys {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 32, alignment: 16)
        buffer.copyBytes(from: bytes)
        let master = SymmetricKey(data: UnsafeRawBufferPointer(buffer))
        func derive(_ purpose: KeyPurpose) -> SymmetricKey {
            HKDF<SHA256>.deriveKey(
                inputKeyMaterial: master, salt: Array("bedside".utf8), info: Array(purpose.rawValue.utf8), outputByteCount: 32)
        }
        return Keys(dataKey: buffer, columns: derive(.columns), blindIndex: derive(.blindIndex))
    }

    // MARK: Creating and unlocking

    /// Makes a new random data key and wraps it under `password`. Returns the unlocked vault and what to store.
    public static func create(password: String, parameters: KDFParameters = .standard) throws(VaultError) -> (KeyVault, WrappedKey) {
        var dataKey = try randomBytes(32)
        defer { wipe(&dataKey) }
        let wrapped = try wrap(dataKey, password: password, parameters: parameters)
        return (KeyVault(dataKey: dataKey), wrapped)
    }

    /// Unwraps the data key with `password`. A wrong password fails the authentication tag, never yields garbage.
    public static func unlock(_ wrapped: WrappedKey, password: String) throws(VaultError) -> KeyVault {
        guard let salt = Data(base64Encoded: wrapped.salt), let sealed = Data(base64Encoded: wrapped.sealedKey) else {
            throw .corruptKeyFile("bad base64")
        }
        let keyEncryptionKey = try wrapped.kdf.deriveKey(password: password, salt: Array(salt))
        var dataKey: [UInt8]
        do {
            let box = try AES.GCM.SealedBox(combined: sealed)
            var opened = try AES.GCM.open(box, using: keyEncryptionKey, authenticating: Array("bedside.vault.key".utf8))
            dataKey = Array(opened)
            // The opened Data is a second copy of the key: wiped before it is freed, like the array below.
            opened.withUnsafeMutableBytes { wipe($0) }
        } catch {
            throw .wrongPassword
        }
        defer { wipe(&dataKey) }
        guard dataKey.count == 32 else { throw .corruptKeyFile("the data key has the wrong length") }
        return KeyVault(dataKey: dataKey)
    }

    /// The same data key wrapped under a new password: a password change re-encrypts nothing else.
    public func rewrap(newPassword: String, parameters: KDFParameters = .standard) throws(VaultError) -> WrappedKey {
        let result: Result<WrappedKey, VaultError> = keys.withLock { keys in
            guard let keys else { return .failure(.locked) }
            // A copy of the key for the wrapping, wiped whatever happens.
            var copy = Array(UnsafeRawBufferPointer(keys.dataKey))
            defer { Self.wipe(&copy) }
            do throws(VaultError) {
                return .success(try Self.wrap(copy, password: newPassword, parameters: parameters))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    private static func wrap(_ dataKey: [UInt8], password: String, parameters: KDFParameters) throws(VaultError) -> WrappedKey {
        let salt = try randomBytes(16)
        let keyEncryptionKey = try parameters.deriveKey(password: password, salt: salt)
        do {
            let box = try AES.GCM.seal(dataKey, using: keyEncryptionKey, authenticating: Array("bedside.vault.key".utf8))
            guard let combined = box.combined else { throw VaultError.system("sealing failed") }
            return WrappedKey(
                format: WrappedKey.currentFormat, kdf: parameters, salt: Data(salt).base64EncodedString(),
                sealedKey: combined.base64EncodedString())
        } catch {
            throw .system("The data key could not be wrapped: \(error)")
        }
    }

    // MARK: Locking

    public var isUnlocked: Bool { keys.withLock { $0 != nil } }

    /// Wipes the data key and the keys derived from it. Sealing and opening fail with `.locked` afterwards.
    public func lock() {
        keys.withLock { keys in
            if let buffer = keys?.dataKey {
                Self.wipe(buffer)
                #if DEBUG
                    Self.releasedKeyObserver.withLock { $0 }?(UnsafeRawBufferPointer(buffer))
                #endif
                buffer.deallocate()
            }
            // The derived SymmetricKeys zero their own storage when their last reference goes.
            keys = nil
        }
    }

    #if DEBUG
        /// Test builds only: sees the key's memory after the wipe, just before it is freed (freed memory is
        /// soon reused, so a scan alone cannot always tell a missing wipe).
        static let releasedKeyObserver = Mutex<(@Sendable (UnsafeRawBufferPointer) -> Void)?>(nil)
    #endif

    // MARK: Sealing

    /// Additional data binding a sealed value to its place: a value copied to another row or table fails to open.
    static func context(table: String, rowID: String, column: String) -> [UInt8] {
        Array("\(table)\u{0}\(rowID)\u{0}\(column)".utf8)
    }

    /// AES-256-GCM with a fresh random 96-bit nonce; the result is nonce (12) + ciphertext + tag (16).
    public func seal(_ plaintext: [UInt8], table: String, rowID: String, column: String) throws(VaultError) -> [UInt8] {
        let key = try columnKey()
        do {
            let box = try AES.GCM.seal(plaintext, using: key, nonce: AES.GCM.Nonce(), authenticating: Self.context(table: table, rowID: rowID, column: column))
            guard let combined = box.combined else { throw VaultError.system("sealing failed") }
            return Array(combined)
        } catch {
            throw .system("A value could not be sealed: \(error)")
        }
    }

    public func seal(_ text: String, table: String, rowID: String, column: String) throws(VaultError) -> [UInt8] {
        try seal(Array(text.utf8), table: table, rowID: rowID, column: column)
    }

    /// Opens a sealed value; any change to it, or a different table, row or column, fails with `.tampered`.
    public func open(_ sealed: [UInt8], table: String, rowID: String, column: String) throws(VaultError) -> [UInt8] {
        let key = try columnKey()
        do {
            let box = try AES.GCM.SealedBox(combined: sealed)
            return Array(try AES.GCM.open(box, using: key, authenticating: Self.context(table: table, rowID: rowID, column: column)))
        } catch {
            // On Linux a failed tag check is CryptoKitError.underlyingCoreCryptoError, elsewhere
            // .authenticationFailure; a short input is .incorrectParameterSize. All mean the same here.
            throw .tampered("\(table).\(column)")
        }
    }

    public func openString(_ sealed: [UInt8], table: String, rowID: String, column: String) throws(VaultError) -> String {
        let bytes = try open(sealed, table: table, rowID: rowID, column: column)
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .tampered("\(table).\(column)") }
        return text
    }

    /// A keyed hash (HMAC-SHA256, truncated to 16 bytes) for finding rows by a sealed value without revealing it.
    public func blindIndex(_ value: String, domain: String) throws(VaultError) -> [UInt8] {
        let key: SymmetricKey = try keys.withLock { keys throws(VaultError) in
            guard let keys else { throw .locked }
            return keys.blindIndex
        }
        let code = HMAC<SHA256>.authenticationCode(for: Array("\(domain)\u{0}\(value)".utf8), using: key)
        return Array(Array(code).prefix(16))
    }

    private func columnKey() throws(VaultError) -> SymmetricKey {
        try keys.withLock { keys throws(VaultError) in
            guard let keys else { throw .locked }
            return keys.columns
        }
    }

    // MARK: Helpers

    static func randomBytes(_ count: Int) throws(VaultError) -> [UInt8] {
        // SystemRandomNumberGenerator is the kernel's getrandom(2): cryptographically secure, never blocks once seeded.
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    /// Overwrites memory in a way the optimiser may not remove.
    static func wipe(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress else { return }
        explicit_bzero(base, buffer.count)
    }

    static func wipe(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { wipe($0) }
    }
}
