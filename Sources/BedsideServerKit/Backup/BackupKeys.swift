import Crypto
import Foundation

/// The public half of a backup key pair (`PREFIX.pub`): what a server encrypts its backups to.
///
/// The file is text: a comment, then one labelled line, `bedside-backup-recipient-x25519 <base64>`, so an
/// administrator can tell it from the secret half and compare fingerprints by eye.
public struct BackupRecipientKey: Sendable {
    static let label = "bedside-backup-recipient-x25519"

    public let publicKey: Curve25519.KeyAgreement.PublicKey

    public init(_ publicKey: Curve25519.KeyAgreement.PublicKey) {
        self.publicKey = publicKey
    }

    /// SHA-256 of the raw public key: written in each backup's header, so a wrong key is named as such.
    public var fingerprint: [UInt8] { Array(SHA256.hash(data: publicKey.rawRepresentation)) }

    /// `SHA256:` and the fingerprint in unpadded base64, as ssh shows keys.
    public var fingerprintText: String { Self.fingerprintText(fingerprint) }

    static func fingerprintText(_ bytes: [UInt8]) -> String {
        "SHA256:" + Data(bytes).base64EncodedString().replacingOccurrences(of: "=", with: "")
    }

    public var fileText: String {
        """
        # Bedside backup recipient key (X25519, HPKE). Backups made with it open only with its secret half.
        # Fingerprint \(fingerprintText)
        \(Self.label) \(publicKey.rawRepresentation.base64EncodedString())

        """
    }

    /// Reads `PREFIX.pub`.
    public static func read(path: String) throws -> BackupRecipientKey {
        try BackupKeyFile.read(path: path, label: label, otherLabel: BackupSecretKey.label, what: "a backup recipient (.pub) key") {
            BackupRecipientKey(try Curve25519.KeyAgreement.PublicKey(rawRepresentation: $0))
        }
    }
}

/// The secret half (`PREFIX.key`, 0600): it opens every backup made for its public half. It belongs
/// offline, with whoever may restore.
public struct BackupSecretKey: Sendable {
    static let label = "bedside-backup-secret-x25519"

    public let privateKey: Curve25519.KeyAgreement.PrivateKey

    public init(_ privateKey: Curve25519.KeyAgreement.PrivateKey) {
        self.privateKey = privateKey
    }

    public var recipient: BackupRecipientKey { BackupRecipientKey(privateKey.publicKey) }

    var fileText: String {
        """
        # Bedside backup SECRET key: it opens every backup made for fingerprint \(recipient.fingerprintText).
        # Keep it offline, readable by you only; bring it to the machine only to restore.
        \(Self.label) \(privateKey.rawRepresentation.base64EncodedString())

        """
    }

    /// Reads `PREFIX.key`.
    public static func read(path: String) throws -> BackupSecretKey {
        try BackupKeyFile.read(path: path, label: label, otherLabel: BackupRecipientKey.label, what: "a backup secret (.key) key") {
            BackupSecretKey(try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: $0))
        }
    }

    /// Makes a new key pair as `PREFIX.pub` (0644) and `PREFIX.key` (0600). Neither file may exist: an
    /// existing key is never replaced (backups made for it would become unreadable).
    public static func generate(prefix: String) throws -> BackupSecretKey {
        let secretPath = prefix + ".key", publicPath = prefix + ".pub"
        for path in [secretPath, publicPath] where FileManager.default.fileExists(atPath: path) || BackupPaths.isSymbolicLink(path) {
            throw BackupError(.exists, "\(path) already exists; a backup key is never overwritten (backups made for it would be lost).")
        }
        let secret = BackupSecretKey(Curve25519.KeyAgreement.PrivateKey())
        let secretFile = try BackupFileHandle.createExclusive(secretPath, mode: 0o600)
        do {
            try secretFile.write(Array(secret.fileText.utf8))
            try secretFile.sync()
            secretFile.close()
            let publicFile = try BackupFileHandle.createExclusive(publicPath, mode: 0o644)
            try publicFile.write(Array(secret.recipient.fileText.utf8))
            try publicFile.sync()
        } catch {
            unlink(secretPath)
            throw error
        }
        BackupPaths.syncDirectory(BackupPaths.parent(of: secretPath))
        return secret
    }
}

/// The text format both key files share.
enum BackupKeyFile {
    /// The key made by `make` from the 32 bytes on the one line that starts with `label`; comments (`#`)
    /// and blank lines are skipped.
    static func read<Key>(path: String, label: String, otherLabel: String, what: String, make: (Data) throws -> Key) throws -> Key {
        let bytes: [UInt8]
        do {
            bytes = try BackupPaths.readSmallFile(path, what: "the key file")
        } catch let error as BackupError where error.kind == .io {
            throw BackupError(.key, error.message)
        }
        let lines = String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        let fields = lines.first.map { $0.split(separator: " ", omittingEmptySubsequences: true) } ?? []
        if fields.first.map(String.init) == otherLabel {
            let hint = label == BackupRecipientKey.label ? "give the .pub file" : "give the .key file"
            throw BackupError(.key, "\(path) is the other half of a backup key pair; \(hint).")
        }
        guard lines.count == 1, fields.count >= 2, fields[0] == label,
            let raw = Data(base64Encoded: String(fields[1])), raw.count == 32, let key = try? make(raw)
        else { throw BackupError(.key, "\(path) is not \(what) made by `bedside-server backup-key`.") }
        return key
    }
}

extension BackupPaths {
    static func isSymbolicLink(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFLNK
    }
}
