import Foundation
import Synchronization

/// Reads a child's output until it ends, on a thread of its own, keeping only the last `limit` bytes.
///
/// A child whose pipe nobody reads stops at its next write once the pipe's 64 KiB are full: a server
/// started by a test must have its output read for as long as it runs. What is kept is there to be shown
/// when a test fails.
public final class OutputTail: Sendable {
    private let kept = Mutex<[UInt8]>([])
    private let limit: Int

    /// Starts reading `handle` at once.
    public init(_ handle: FileHandle, limit: Int = 64 * 1024) {
        self.limit = limit
        Thread.detachNewThread { [self] in
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                kept.withLock { bytes in
                    bytes.append(contentsOf: chunk)
                    if bytes.count > limit { bytes.removeFirst(bytes.count - limit) }
                }
            }
        }
    }

    /// What was kept so far, as text.
    public var text: String { String(decoding: kept.withLock { $0 }, as: UTF8.self) }

    /// The last `lines` lines kept.
    public func lastLines(_ lines: Int) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }
}
