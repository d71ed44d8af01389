import BedsideUI
import CBedsideSystem
import Foundation

/// Why an export could not be written, in words for the patient.
public enum ExportFileError: Error, Sendable, Equatable {
    /// Something already has that name: an export never replaces a file.
    case exists(path: String)
    case cannotCreate(path: String, reason: String)
    case cannotWrite(path: String, reason: String)
    /// Whoever read standard output stopped reading (a closed pipe).
    case outputClosed
    case outputFailed(reason: String)

    public func text(_ t: Localizer) -> String {
        switch self {
        case .exists(let path): t.text(.exportExists, path)
        case .cannotCreate(let path, let reason): t.text(.exportCannotCreate, path, reason)
        case .cannotWrite(let path, let reason): t.text(.exportCannotWrite, path, reason)
        case .outputClosed: t.text(.exportOutputClosed)
        case .outputFailed(let reason): t.text(.exportOutputFailed, reason)
        }
    }

    static func reason(_ code: Int32) -> String { String(cString: strerror(code)) }
}

/// Where export bytes go: a new private file, or standard output.
public protocol ExportSink: AnyObject {
    func write(_ bytes: [UInt8]) throws(ExportFileError)
}

/// A new file only its owner may read or write, there whole or not at all.
///
/// The bytes go to a temporary file in the same directory (made with O_EXCL, 0600, never following a
/// link), which is synced and then linked to its name: link(2) fails when the name is taken, so nothing
/// is ever replaced, and the name appears only once the file is complete. Then the temporary name is
/// removed and the directory synced. On a file system without hard links, renameat2 with
/// RENAME_NOREPLACE does the same. A failure, or (with `removeOnSignal`) Ctrl-C, SIGTERM or SIGHUP while
/// it is written, leaves neither the temporary file nor anything under the name.
public final class ExportFile: ExportSink {
    public let path: String
    let temporaryPath: String
    private var descriptor: Int32
    private var finished = false
    private let removeOnSignal: Bool

    /// The temporary file's name beside `path`: hidden, with a random part.
    static func temporaryName(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let random = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        return url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(random).part").path
    }

    public init(creating path: String, removeOnSignal: Bool = false) throws(ExportFileError) {
        guard !FileManager.default.fileExists(atPath: path) else { throw .exists(path: path) }
        self.path = path
        self.removeOnSignal = removeOnSignal
        temporaryPath = Self.temporaryName(for: path)
        if removeOnSignal { SignalCleanup.remove(temporaryPath) }
        descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else {
            let code = errno
            if removeOnSignal { SignalCleanup.forget() }
            throw .cannotCreate(path: path, reason: ExportFileError.reason(code))
        }
    }

    deinit { abandon() }

    public func write(_ bytes: [UInt8]) throws(ExportFileError) {
        if let failed = Self.writeAll(descriptor, bytes) {
            abandon()
            throw .cannotWrite(path: path, reason: ExportFileError.reason(failed))
        }
    }

    /// Puts the complete file under its name; refuses (and removes the temporary file) if the name was
    /// taken meanwhile.
    public func commit() throws(ExportFileError) {
        guard !finished else { return }
        if fsync(descriptor) != 0 {
            let code = errno
            abandon()
            throw .cannotWrite(path: path, reason: ExportFileError.reason(code))
        }
        close(descriptor)
        descriptor = -1
        var placed = link(temporaryPath, path) == 0
        var code = placed ? 0 : errno
        if !placed, [EPERM, EOPNOTSUPP, ENOSYS, EMLINK].contains(code) {
            placed = bedside_rename_noreplace(temporaryPath, path) == 0
            code = placed ? 0 : errno
        }
        unlink(temporaryPath)
        finish()
        guard placed else {
            if code == EEXIST { throw .exists(path: path) }
            throw .cannotWrite(path: path, reason: ExportFileError.reason(code))
        }
        Self.syncDirectory(of: path)
    }

    /// Removes the temporary file; nothing appears under the name.
    public func abandon() {
        guard !finished else { return }
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
        unlink(temporaryPath)
        finish()
    }

    private func finish() {
        finished = true
        if removeOnSignal { SignalCleanup.forget() }
    }

    static func syncDirectory(of path: String) {
        let directory = open(URL(fileURLWithPath: path).deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directory >= 0 else { return }
        // Some file systems cannot sync a directory (EINVAL); the file itself is synced already.
        _ = fsync(directory)
        close(directory)
    }

    /// Writes every byte, again after EINTR and short writes; the errno of a failure, or nil.
    public static func writeAll(_ descriptor: Int32, _ bytes: [UInt8]) -> Int32? {
        bytes.withUnsafeBytes { buffer -> Int32? in
            guard let base = buffer.baseAddress else { return nil }
            var written = 0
            while written < buffer.count {
                let result = Glibc.write(descriptor, base + written, buffer.count - written)
                if result < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                written += result
            }
            return nil
        }
    }
}

/// Standard output, written whole with a checked loop: a closed pipe (EPIPE; SIGPIPE is ignored so the
/// process lives to say so) or a full disk is an error with words, not a silent death.
public final class StandardOutputSink: ExportSink {
    public init() {
        signal(SIGPIPE, SIG_IGN)
    }

    public func write(_ bytes: [UInt8]) throws(ExportFileError) {
        guard let failed = ExportFile.writeAll(STDOUT_FILENO, bytes) else { return }
        throw failed == EPIPE ? .outputClosed : .outputFailed(reason: ExportFileError.reason(failed))
    }
}

/// Removes a half-written temporary file when the process is interrupted (SIGINT, SIGTERM, SIGHUP),
/// then dies of the same signal as it would have. The handler only unlinks a path kept ready as a C
/// string, and unlink, signal and raise are async-signal-safe.
enum SignalCleanup {
    nonisolated(unsafe) static var pending: UnsafeMutablePointer<CChar>?
    static let signals = [SIGINT, SIGTERM, SIGHUP]

    static func remove(_ path: String) {
        forget()
        pending = strdup(path)
        for number in signals {
            signal(number) { received in
                if let path = SignalCleanup.pending { unlink(path) }
                signal(received, SIG_DFL)
                raise(received)
            }
        }
    }

    static func forget() {
        for number in signals { signal(number, SIG_DFL) }
        let old = pending
        pending = nil
        free(old)
    }
}
