import Foundation

/// A Bulk Data export file as it lies on the server's disk: the NDJSON in sealed chunks, so a file left
/// in `exports/` holds nothing readable (the same keys as the database; `StoreKeys`).
///
/// Each chunk is a 4-byte big-endian length and the chunk sealed for `export/<job>/<file>/<index>`, the
/// last one for `.../<index>/last`: a chunk from another file or place, a reordered file, or one cut
/// short at a chunk's end is refused like an altered one.
enum SealedExportFile {
    /// Larger than any chunk the writer makes (about 1 MiB and one resource); a length above it is damage.
    static let maximumChunk = 256 << 20

    static func context(job: String, file: String, index: Int, last: Bool) -> String {
        "export/\(job)/\(file)/\(index)\(last ? "/last" : "")"
    }

    /// Reads a sealed file chunk by chunk, handing out the NDJSON in it.
    final class Reader: @unchecked Sendable {
        private let handle: FileHandle
        private let keys: StoreKeys
        private let job: String
        private let file: String
        private var index = 0
        private var finished = false

        init(path: String, keys: StoreKeys, job: String, file: String) throws {
            guard let handle = FileHandle(forReadingAtPath: path) else { throw StoreEncryptionError.damaged("export file \(file)") }
            self.handle = handle
            self.keys = keys
            self.job = job
            self.file = file
        }

        deinit { try? handle.close() }

        /// The next chunk's NDJSON; nil after the last. Throws on damage, including a file that ends
        /// without its last chunk.
        func next() throws -> [UInt8]? {
            guard !finished else { return nil }
            guard let header = try handle.read(upToCount: 4), !header.isEmpty else {
                throw StoreEncryptionError.damaged("export file \(file) ends early")
            }
            guard header.count == 4 else { throw StoreEncryptionError.damaged("export file \(file) ends early") }
            let length = header.reduce(0) { $0 << 8 | Int($1) }
            guard length <= SealedExportFile.maximumChunk, let sealed = try handle.read(upToCount: length), sealed.count == length else {
                throw StoreEncryptionError.damaged("export file \(file) ends early")
            }
            // The last chunk says so in what it was sealed for; try it as a middle one first (most are).
            let context = SealedExportFile.context(job: job, file: file, index: index, last: false)
            if let plain = try? keys.open(sealed, context: context) {
                index += 1
                return plain
            }
            let plain = try keys.open(sealed, context: SealedExportFile.context(job: job, file: file, index: index, last: true))
            finished = true
            guard try handle.read(upToCount: 1)?.isEmpty ?? true else { throw StoreEncryptionError.damaged("export file \(file) goes on after its end") }
            return plain
        }
    }
}
