import Crypto
import Foundation

/// The encrypted backup file, format version 1 (all integers big-endian):
///
/// ```
/// offset size
///  0     16  magic "BEDSIDEBACKUP\r\n\x1a" (a text-mode transfer that mangles line ends is caught here)
/// 16      2  format version: 1
/// 18      6  HPKE suite: KEM 0x0020 (DHKEM X25519 HKDF-SHA256), KDF 0x0001 (HKDF-SHA256),
///            AEAD 0x0003 (ChaCha20-Poly1305); RFC 9180, base mode
/// 24      4  plaintext bytes per chunk (1 MiB; a reader accepts 4 KiB to 16 MiB)
/// 28     32  the recipient key's fingerprint, SHA-256 of its raw public key
/// 60     32  HPKE encapsulated key
/// 92         chunks: a 4-byte length, then that many bytes sealed by the HPKE context
/// ```
///
/// The first 60 bytes are the HPKE `info`, so a changed header opens nothing. Each chunk is sealed with
/// the next nonce of the context (chunks cannot be reordered, dropped or repeated) and authenticates its
/// index and whether it is the last; a file must end right after a chunk marked last. A truncated,
/// altered or reordered file therefore fails before any of it is trusted.
enum BackupContainer {
    static let magic: [UInt8] = Array("BEDSIDEBACKUP\r\n\u{1A}".utf8)
    static let formatVersion: UInt16 = 1
    static let suite = HPKE.Ciphersuite.Curve25519_SHA256_ChachaPoly
    static let suiteIdentifiers: (kem: UInt16, kdf: UInt16, aead: UInt16) = (0x0020, 0x0001, 0x0003)
    static let defaultChunkSize = 1 << 20
    static let chunkSizes = 4096...(16 << 20)
    static let infoLength = 60
    static let encapsulatedKeyLength = 32
    static let headerLength = infoLength + encapsulatedKeyLength
    static let tagLength = 16

    static func info(chunkSize: Int, fingerprint: [UInt8]) -> [UInt8] {
        var bytes = magic
        bytes.appendBigEndian(formatVersion)
        bytes.appendBigEndian(suiteIdentifiers.kem)
        bytes.appendBigEndian(suiteIdentifiers.kdf)
        bytes.appendBigEndian(suiteIdentifiers.aead)
        bytes.appendBigEndian(UInt32(clamping: chunkSize))
        bytes += fingerprint
        return bytes
    }

    /// What each chunk authenticates besides its bytes: its index and whether it is the last.
    static func chunkAAD(index: UInt64, isLast: Bool) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.appendBigEndian(index)
        bytes.append(isLast ? 1 : 0)
        return bytes
    }
}

/// Encrypts a stream into a backup file, one chunk at a time: memory stays at one chunk whatever the size.
final class BackupSealer {
    private var sender: HPKE.Sender
    private let output: BackupFileHandle
    private let chunkSize: Int
    private var buffer: [UInt8] = []
    private var index: UInt64 = 0
    private(set) var bytesWritten: UInt64 = 0
    private let shouldStop: @Sendable () -> Bool

    init(output: BackupFileHandle, recipient: BackupRecipientKey, chunkSize: Int = BackupContainer.defaultChunkSize,
         shouldStop: @escaping @Sendable () -> Bool = { false }) throws {
        self.output = output
        self.chunkSize = chunkSize
        self.shouldStop = shouldStop
        let info = BackupContainer.info(chunkSize: chunkSize, fingerprint: recipient.fingerprint)
        sender = try HPKE.Sender(recipientKey: recipient.publicKey, ciphersuite: BackupContainer.suite, info: Data(info))
        guard sender.encapsulatedKey.count == BackupContainer.encapsulatedKeyLength else {
            throw BackupError(.io, "The encryption library gave an encapsulated key of an unexpected size.")
        }
        try output.write(info + Array(sender.encapsulatedKey))
        bytesWritten = UInt64(BackupContainer.headerLength)
        buffer.reserveCapacity(chunkSize)
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var rest = bytes[...]
        while !rest.isEmpty {
            let taken = min(chunkSize - buffer.count, rest.count)
            buffer.append(contentsOf: rest.prefix(taken))
            rest = rest.dropFirst(taken)
            if buffer.count == chunkSize { try seal(isLast: false) }
        }
    }

    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Seals what is left as the last chunk (possibly empty) and makes the file durable.
    func finish() throws {
        try seal(isLast: true)
        try output.sync()
    }

    private func seal(isLast: Bool) throws {
        if shouldStop() { throw BackupError.stopped }
        let sealed = try sender.seal(buffer, authenticating: BackupContainer.chunkAAD(index: index, isLast: isLast))
        var length: [UInt8] = []
        length.appendBigEndian(UInt32(sealed.count))
        try output.write(length)
        try output.write(sealed)
        bytesWritten += UInt64(4 + sealed.count)
        index += 1
        buffer.removeAll(keepingCapacity: true)
    }
}

/// Reads a backup file back: checks the header, then opens chunk after chunk; `read` gives the plaintext
/// and ends (returns empty) only after the chunk marked last, with nothing after it.
final class BackupOpener {
    private var recipient: HPKE.Recipient
    private let input: BackupFileHandle
    private let chunkSize: Int
    private var plain: [UInt8] = []
    private var position = 0
    private var index: UInt64 = 0
    private var sawLast = false
    private let name: String

    /// Checks the header against `key`; the messages name what is wrong with the file.
    init(input: BackupFileHandle, key: BackupSecretKey) throws {
        self.input = input
        name = input.path
        let header = try input.read(upTo: BackupContainer.headerLength)
        guard header.count >= BackupContainer.magic.count, Array(header.prefix(BackupContainer.magic.count)) == BackupContainer.magic else {
            throw BackupError(.notABackup, "\(name) is not a Bedside backup.")
        }
        guard header.count == BackupContainer.headerLength else {
            throw BackupError(.damaged, "\(name) is truncated: it ends inside its header.")
        }
        let version = header.bigEndianUInt16(at: 16)
        guard version == BackupContainer.formatVersion else {
            throw BackupError(.notABackup, "\(name) is a backup of format version \(version); this bedside-server reads version \(BackupContainer.formatVersion).")
        }
        let ids = BackupContainer.suiteIdentifiers
        guard header.bigEndianUInt16(at: 18) == ids.kem, header.bigEndianUInt16(at: 20) == ids.kdf, header.bigEndianUInt16(at: 22) == ids.aead else {
            throw BackupError(.notABackup, "\(name) names an encryption this bedside-server does not use; it was altered or made by another program.")
        }
        let chunkSize = Int(header.bigEndianUInt32(at: 24))
        guard BackupContainer.chunkSizes.contains(chunkSize) else {
            throw BackupError(.damaged, "\(name) is damaged or was altered: its header names a chunk size of \(chunkSize) bytes.")
        }
        self.chunkSize = chunkSize
        let fingerprint = Array(header[28..<60])
        guard fingerprint == key.recipient.fingerprint else {
            throw BackupError(.wrongKey, "\(name) was made for the backup key \(BackupRecipientKey.fingerprintText(fingerprint)), "
                + "not for this one (\(key.recipient.fingerprintText)).")
        }
        let info = Data(header[0..<BackupContainer.infoLength])
        let encapsulated = Data(header[BackupContainer.infoLength...])
        do {
            recipient = try HPKE.Recipient(privateKey: key.privateKey, ciphersuite: BackupContainer.suite, info: info, encapsulatedKey: encapsulated)
        } catch {
            throw BackupError(.damaged, "\(name) is damaged or was altered: its header does not open with this key.")
        }
    }

    /// Up to `count` plaintext bytes; empty only at the verified end.
    func read(upTo count: Int) throws -> ArraySlice<UInt8> {
        while position == plain.count {
            if sawLast {
                guard try input.read(upTo: 1).isEmpty else {
                    throw BackupError(.damaged, "\(name) was altered: it has data after its last part.")
                }
                return []
            }
            try openNextChunk()
        }
        let end = min(plain.count, position + count)
        defer { position = end }
        return plain[position..<end]
    }

    /// Exactly `count` plaintext bytes, or a damaged-file error naming `what` was cut short.
    func readExactly(_ count: Int, what: String) throws -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        while bytes.count < count {
            let piece = try read(upTo: count - bytes.count)
            guard !piece.isEmpty else { throw BackupError(.damaged, "\(name) is damaged: its contents end inside \(what).") }
            bytes += piece
        }
        return bytes
    }

    private func openNextChunk() throws {
        let lengthBytes = try input.read(upTo: 4)
        guard lengthBytes.count == 4 else {
            throw BackupError(.damaged, "\(name) is truncated: it ends before its last part (after \(index) of its parts). It cannot be restored.")
        }
        let length = Int(lengthBytes.bigEndianUInt32(at: 0))
        guard length >= BackupContainer.tagLength, length <= chunkSize + BackupContainer.tagLength else {
            throw BackupError(.damaged, "\(name) is damaged or was altered (part \(index + 1) has an impossible length).")
        }
        let sealed = try input.read(upTo: length)
        guard sealed.count == length else {
            throw BackupError(.damaged, "\(name) is truncated: it ends inside part \(index + 1). It cannot be restored.")
        }
        // The last chunk is told apart by its authenticated flag: try "not last" first, as nearly all are.
        if let opened = try? recipient.open(sealed, authenticating: BackupContainer.chunkAAD(index: index, isLast: false)) {
            plain = Array(opened)
        } else if let opened = try? recipient.open(sealed, authenticating: BackupContainer.chunkAAD(index: index, isLast: true)) {
            plain = Array(opened)
            sawLast = true
        } else {
            throw BackupError(.damaged, "\(name) is damaged or was altered (part \(index + 1) fails its check). Nothing was restored.")
        }
        position = 0
        index += 1
    }
}

extension [UInt8] {
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }

    func bigEndianUInt16(at offset: Int) -> UInt16 {
        self[offset..<offset + 2].reduce(0) { $0 << 8 | UInt16($1) }
    }

    func bigEndianUInt32(at offset: Int) -> UInt32 {
        self[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }

    func bigEndianUInt64(at offset: Int) -> UInt64 {
        self[offset..<offset + 8].reduce(0) { $0 << 8 | UInt64($1) }
    }
}
