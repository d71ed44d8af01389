import BedsideCore
import BedsideSync
import Foundation

/// Why the state of a resumable export cannot be used.
public enum ServerExportStateError: Error, Sendable, Equatable {
    /// The state beside the output belongs to another account or server.
    case otherAccount(path: String)
    /// Not a private regular file of this user (a link, another owner, readable by others).
    case unsafe(path: String)
    case failed(path: String, reason: String)
    /// More came than an export keeps.
    case tooLarge(path: String)
}

/// What `bedside export --from-server` has fetched so far, kept beside the output so that the same
/// command, run again after an interruption, goes on where it stopped.
///
/// The file is `.<output name>.bedside-export` in the output's directory, 0600, made with O_EXCL and
/// never through a link. It is a log of lines: a header naming the server and patient, then per page
/// the resources (`R`, type, id, then the resource as compact JSON, which has no raw line breaks) and a
/// checkpoint (`C`, the position after the page), synced once per page. On resume, whatever follows the
/// last checkpoint (a page cut short by the interruption) is cut off and fetched again. It is removed once
/// the export is in place. It holds health data in clear, like the export itself.
public final class ServerExportState {
    public let path: String
    /// Where to go on from; `.start` for a new export.
    public private(set) var position = ServerExportPosition.start
    /// Resources fetched, each counted once.
    public var fetched: Int { seen.count }
    let header: JSONValue
    private var descriptor: Int32 = -1
    private var seen: Set<String> = []
    /// Resources kept at most, against a server that never stops.
    public static let maximumResources = 5_000_000
    /// Bytes kept at most (8 GiB).
    public static let maximumBytes: Int64 = 8 << 30
    private var size: Int64 = 0

    public static func path(forOutput output: String) -> String {
        let url = URL(fileURLWithPath: output)
        return url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).bedside-export").path
    }

    /// Opens what an earlier run of this export left, or prepares a new one (made with the first page).
    public init(output: String, server: String, patientID: String) throws(ServerExportStateError) {
        path = Self.path(forOutput: output)
        header = ["bedsideExport": 1, "server": .string(server), "patient": .string(patientID)]
        let existing = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC)
        guard existing >= 0 else {
            let code = errno
            guard code == ENOENT else { throw Self.failure(code, path) }
            return
        }
        descriptor = existing
        var status = stat()
        guard fstat(existing, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG, status.st_uid == getuid(), status.st_mode & 0o077 == 0 else {
            close(existing)
            descriptor = -1
            throw .unsafe(path: path)
        }
        try resume()
    }

    deinit { if descriptor >= 0 { close(descriptor) } }

    static func failure(_ code: Int32, _ path: String) -> ServerExportStateError {
        .failed(path: path, reason: String(cString: strerror(code)))
    }

    /// Reads the log: checks the header, finds the last checkpoint, cuts what follows it.
    private func resume() throws(ServerExportStateError) {
        var headerSeen = false
        var kept: Int64 = 0
        var ids: Set<String> = []
        var pendingIDs: [String] = []
        let lines = LineReader(descriptor: descriptor)
        while let (line, end) = lines.next() {
            if !headerSeen {
                guard line.first == UInt8(ascii: "H"), let json = try? JSONParser.parse(Array(line.dropFirst(2))), json == header else {
                    throw .otherAccount(path: path)
                }
                headerSeen = true
                kept = end
                continue
            }
            switch line.first {
            case UInt8(ascii: "R"):
                if let (type, id, _) = Self.resourceFields(line) { pendingIDs.append(type + "/" + id) }
            case UInt8(ascii: "C"):
                guard let json = try? JSONParser.parse(Array(line.dropFirst(2))), let checkpoint = ServerExportPosition(json: json) else { break }
                position = checkpoint
                ids.formUnion(pendingIDs)
                pendingIDs = []
                kept = end
            default:
                break
            }
        }
        if lines.failed != 0 { throw Self.failure(lines.failed, path) }
        guard headerSeen else { throw .otherAccount(path: path) }
        seen = ids
        size = kept
        guard ftruncate(descriptor, off_t(kept)) == 0, lseek(descriptor, off_t(kept), SEEK_SET) >= 0 else { throw Self.failure(errno, path) }
    }

    /// `R\t<type>\t<id>\t<json>`: the type, the id and where the JSON starts.
    static func resourceFields(_ line: ArraySlice<UInt8>) -> (String, String, ArraySlice<UInt8>.Index)? {
        let parts = line.split(separator: UInt8(ascii: "\t"), maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0].elementsEqual("R".utf8) else { return nil }
        return (String(decoding: parts[1], as: UTF8.self), String(decoding: parts[2], as: UTF8.self), parts[3].startIndex)
    }

    /// Keeps one page's resources and the position after it, synced, before the next page is asked for.
    public func append(_ resources: [JSONValue], position: ServerExportPosition) throws(ServerExportStateError) {
        var bytes: [UInt8] = []
        if descriptor < 0 {
            descriptor = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else { throw Self.failure(errno, path) }
            bytes += Array("H\t".utf8) + header.serialized() + [0x0A]
        }
        for resource in resources {
            guard let type = resource["resourceType"]?.stringValue, let id = resource["id"]?.stringValue else { continue }
            bytes += Array("R\t\(type)\t\(id)\t".utf8) + resource.serialized() + [0x0A]
            seen.insert(type + "/" + id)
        }
        bytes += Array("C\t".utf8) + position.json.serialized() + [0x0A]
        size += Int64(bytes.count)
        guard seen.count <= Self.maximumResources, size <= Self.maximumBytes else { throw .tooLarge(path: path) }
        if let failed = ExportFile.writeAll(descriptor, bytes) { throw Self.failure(failed, path) }
        guard fsync(descriptor) == 0 else { throw Self.failure(errno, path) }
        self.position = position
    }

    /// Each resource kept, once (its last copy), in the order fetched: its type, id and JSON bytes.
    public func forEachResource(_ body: (String, String, ArraySlice<UInt8>) throws -> Void) throws {
        guard descriptor >= 0 else { return }
        var last: [String: Int64] = [:]
        let first = LineReader(descriptor: descriptor)
        while let (line, end) = first.next() {
            if let (type, id, _) = Self.resourceFields(line) { last[type + "/" + id] = end }
        }
        if first.failed != 0 { throw Self.failure(first.failed, path) }
        let second = LineReader(descriptor: descriptor)
        while let (line, end) = second.next() {
            guard let (type, id, start) = Self.resourceFields(line), last[type + "/" + id] == end else { continue }
            try body(type, id, line[start...])
        }
        if second.failed != 0 { throw Self.failure(second.failed, path) }
    }

    /// Removes the state once the export is in place.
    public func remove() {
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
        unlink(path)
    }
}

/// Reads a file's lines from the start with pread, whatever their length: each line without its line
/// break, and the offset just past it.
final class LineReader {
    let descriptor: Int32
    private var buffer: [UInt8] = []
    private var start = 0
    private var offset: Int64 = 0
    private var atEnd = false
    private(set) var failed: Int32 = 0

    init(descriptor: Int32) { self.descriptor = descriptor }

    func next() -> (ArraySlice<UInt8>, Int64)? {
        while true {
            if let newline = buffer[start...].firstIndex(of: 0x0A) {
                let line = buffer[start..<newline]
                let consumed = Int64(newline + 1 - start)
                start = newline + 1
                offset += consumed
                return (line, offset)
            }
            // A last line without its break is a write cut short: not a line.
            guard !atEnd else { return nil }
            buffer.removeFirst(start)
            start = 0
            var chunk = [UInt8](repeating: 0, count: 1 << 20)
            let position = offset + Int64(buffer.count)
            let count = chunk.withUnsafeMutableBytes { raw -> Int in
                guard let base = raw.baseAddress else { return -1 }
                while true {
                    let result = pread(descriptor, base, raw.count, off_t(position))
                    if result < 0, errno == EINTR { continue }
                    return result
                }
            }
            if count < 0 {
                failed = errno
                return nil
            }
            if count == 0 { atEnd = true }
            buffer += chunk.prefix(count)
        }
    }
}
