import Foundation

/// Why a backup could not be made or restored, in one sentence an administrator can act on.
public struct BackupError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable {
        /// A key file that is missing, unreadable or not a backup key of the kind asked for.
        case key
        /// The file is not a Bedside backup, or of a format this program does not read.
        case notABackup
        /// The backup was made for another key.
        case wrongKey
        /// The backup ends early, was altered, or holds something a backup never holds.
        case damaged
        /// The output or target already exists.
        case exists
        /// The data directory has no database, or its database cannot be copied.
        case source
        /// Reading or writing a file failed (disk full, permissions).
        case io
        /// The server is stopping: a scheduled backup gave up.
        case stopped
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    /// An I/O failure of a system call, with the system's reason.
    static func io(_ what: String, _ path: String, errno code: Int32 = errno) -> BackupError {
        BackupError(.io, "Cannot \(what) \(path): \(String(cString: strerror(code))).")
    }

    static let stopped = BackupError(.stopped, "The backup was stopped because the server is stopping.")
}
