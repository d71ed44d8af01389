import Foundation
import Logging
import Synchronization

/// `serve --backup-every-hours N --backup-recipient PREFIX.pub --backup-dir DIR [--backup-keep K]`.
public struct BackupSchedule: Sendable {
    public var interval: Duration
    public var recipient: BackupRecipientKey
    public var directory: URL
    /// How many of the newest scheduled backups in `directory` are kept; older ones are deleted.
    public var keep: Int

    public init(interval: Duration, recipient: BackupRecipientKey, directory: URL, keep: Int = 7) {
        self.interval = interval
        self.recipient = recipient
        self.directory = directory
        self.keep = keep
    }

    /// `bedside-server-20261204T031500Z.backup`: names sort by time, and say it in UTC.
    static func fileName(at date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func two(_ value: Int?) -> String { String(format: "%02d", value ?? 0) }
        return "bedside-server-\(String(format: "%04d", c.year ?? 0))\(two(c.month))\(two(c.day))T\(two(c.hour))\(two(c.minute))\(two(c.second))Z.backup"
    }

    /// The time in a scheduled backup's name; nil for any other file (which is never touched).
    static func time(ofFileName name: String) -> Date? {
        let pattern = /^bedside-server-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z\.backup$/
        guard let match = name.wholeMatch(of: pattern) else { return nil }
        var components = DateComponents()
        components.calendar = Calendar(identifier: .gregorian)
        components.timeZone = TimeZone(identifier: "UTC")
        (components.year, components.month, components.day) = (Int(match.1), Int(match.2), Int(match.3))
        (components.hour, components.minute, components.second) = (Int(match.4), Int(match.5), Int(match.6))
        return components.date
    }

    /// The scheduled backups in the directory, newest first.
    func existingBackups() -> [(name: String, time: Date)] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
            .compactMap { name in Self.time(ofFileName: name).map { (name, $0) } }
            .sorted { $0.time > $1.time }
    }

    /// Seconds until the next backup is due: an interval after the newest one in the directory, so a
    /// restarted server does not make a backup at each start (nor wait a whole interval after a gap).
    func secondsUntilDue(now: Date) -> Double {
        guard let newest = existingBackups().first else { return 0 }
        let seconds = Double(interval.components.seconds)
        return max(0, min(seconds, newest.time.addingTimeInterval(seconds).timeIntervalSince(now)))
    }

    /// Deletes the scheduled backups past the `keep` newest; returns the names deleted.
    @discardableResult
    func prune() -> [String] {
        let old = existingBackups().dropFirst(keep).map(\.name)
        for name in old { unlink(directory.appendingPathComponent(name).path) }
        return old
    }
}

/// The loop `serve` runs for a schedule: backs up when due, keeps the newest, and logs every failure as
/// critical. The work runs on a thread of its own, never on the threads that answer requests.
struct ScheduledBackups: Sendable {
    let schedule: BackupSchedule
    let dataDirectory: URL
    let logger: Logger

    func run() async {
        while !Task.isCancelled {
            let wait = schedule.secondsUntilDue(now: Date())
            if wait > 0 {
                try? await Task.sleep(for: .seconds(wait))
                if Task.isCancelled { return }
            }
            do {
                let report = try await backUpOnce()
                let deleted = schedule.prune()
                logger.notice("Backup written: \(report.path) (\(BackupContents.size(report.bytes)), \(report.contents.summary); \(String(format: "%.1f", report.seconds)) s)\(deleted.isEmpty ? "" : "; deleted older \(deleted.joined(separator: ", "))")")
            } catch let error as BackupError where error.kind == .stopped {
                return
            } catch {
                // Loud, and tried again within the hour rather than a whole interval later.
                let retry = min(Double(schedule.interval.components.seconds), 3600)
                logger.critical("Scheduled backup FAILED: \(error). The next try is in \(Int(retry / 60)) minutes.")
                try? await Task.sleep(for: .seconds(retry))
            }
        }
    }

    /// One backup, named with the current UTC time; stops early when the task is cancelled.
    func backUpOnce() async throws -> BackupReport {
        let stop = StopFlag()
        let output = schedule.directory.appendingPathComponent(BackupSchedule.fileName(at: Date())).path
        let (schedule, dataDirectory) = (self.schedule, self.dataDirectory)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<BackupReport, any Error>) in
                Thread.detachNewThread {
                    continuation.resume(with: Result {
                        try ServerBackup.write(
                            dataDirectory: dataDirectory, recipient: schedule.recipient, output: output, shouldStop: { stop.isSet })
                    })
                }
            }
        } onCancel: {
            stop.set()
        }
    }
}

/// Set once, read from the backup's thread.
final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    var isSet: Bool { flag.load(ordering: .acquiring) }
    func set() { flag.store(true, ordering: .releasing) }
}
