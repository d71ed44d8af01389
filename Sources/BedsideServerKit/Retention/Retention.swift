import BedsideCore
import Foundation
import Logging

/// How long data is kept after a patient's care ended, and where it is handed over before it goes.
public struct RetentionPolicy: Sendable {
    /// Whole years after the end of care (1 to 100).
    public var years: Int

    public init(years: Int) { self.years = years }

    public static let yearRange = 1...100

    /// The instant before which care must have ended for the data to go: `years` calendar years (UTC)
    /// before `now`.
    public func cutoff(now: Int64) -> Int64 {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        let date = Date(timeIntervalSince1970: Double(now) / 1000)
        // Nothing is due when the date cannot be worked out (a clock far off): never erase on a guess.
        guard let earlier = calendar.date(byAdding: .year, value: -years, to: date),
            let milliseconds = Int64(exactly: (earlier.timeIntervalSince1970 * 1000).rounded())
        else { return Int64.min }
        return milliseconds
    }
}

/// A patient whose data retention would hand over and erase.
public struct RetentionCandidate: Sendable {
    public var careEnd: CareEnd
    /// The account's e-mail, when the patient has one (for the operator's dry run).
    public var email: String?
    public var resources: Int
}

/// `bedside-server retention` and the server's daily run: finds the patients whose care ended more
/// than the policy's years ago, then hands over and erases each (`PatientErasure`). Patients in care
/// (no recorded end, or an end that was taken back) are never among them.
public struct RetentionRun: Sendable {
    public let store: any ServerStore
    public let clock: any WallClock
    public let policy: RetentionPolicy

    public init(store: any ServerStore, clock: any WallClock = SystemClock(), policy: RetentionPolicy) {
        self.store = store
        self.clock = clock
        self.policy = policy
    }

    public func candidates() async throws -> [RetentionCandidate] {
        let cutoff = policy.cutoff(now: clock.now())
        return try await store.read { db in
            try db.careEnds(endedBefore: cutoff).map { end in
                RetentionCandidate(
                    careEnd: end, email: try db.account(patientID: end.patientID)?.email,
                    resources: try db.patientDataSummary(patientID: end.patientID).resources)
            }
        }
    }

    /// One patient's outcome.
    public enum Outcome: Sendable {
        case erased(PatientErasure.Report)
        /// Left for the next run (their data changed meanwhile, their care resumed).
        case skipped(patientID: String, RetentionError)
        /// The run stopped here (a hand-over that cannot be written, a store that fails): the patients
        /// after this one were not looked at.
        case stopped(patientID: String, any Error)
    }

    /// Hands over and erases every candidate, reporting each as it is done (`progress`, for the daily
    /// run's log) and all at the end. A patient that cannot be done now is left for the next run; a
    /// failure the next patient would meet too stops the run, and what was done before is still reported.
    public func apply(
        handOverTo directory: URL, actor: ErasureActor, progress: @Sendable (Outcome) -> Void = { _ in }
    ) async throws -> [Outcome] {
        let erasure = PatientErasure(store: store, clock: clock)
        var outcomes: [Outcome] = []
        for candidate in try await candidates() {
            let cutoff = policy.cutoff(now: clock.now())
            let outcome: Outcome
            do {
                outcome = .erased(try await erasure.erase(
                    patientID: candidate.careEnd.patientID, handOverTo: directory, actor: actor,
                    reason: "retention: care ended more than \(policy.years) years ago", careEndedBefore: cutoff))
            } catch let error as RetentionError where error.kind != .handOver {
                outcome = .skipped(patientID: candidate.careEnd.patientID, error)
            } catch is CancellationError {
                return outcomes
            } catch {
                outcome = .stopped(patientID: candidate.careEnd.patientID, error)
            }
            progress(outcome)
            outcomes.append(outcome)
            if case .stopped = outcome { break }
        }
        return outcomes
    }
}

/// `serve --retention-years N --retention-export-dir DIR`: the retention run once a day.
public struct RetentionSchedule: Sendable {
    public var policy: RetentionPolicy
    public var directory: URL
    public var interval: Duration = .seconds(86_400)
    /// The first run, after the server started (it must not hold up the start).
    public var firstRunAfter: Duration = .seconds(60)

    public init(policy: RetentionPolicy, directory: URL) {
        self.policy = policy
        self.directory = directory
    }
}

/// The loop `serve` runs for a retention schedule; every erasure is logged (notice) with the Patient
/// id only, and a run that fails is logged as critical and tried again at the next interval.
struct ScheduledRetention: Sendable {
    let schedule: RetentionSchedule
    let store: any ServerStore
    let clock: any WallClock
    let logger: Logger

    func run() async {
        var wait = schedule.firstRunAfter
        while !Task.isCancelled {
            try? await Task.sleep(for: wait)
            if Task.isCancelled { return }
            wait = schedule.interval
            // Instances sharing a database: the one that leads retention runs it.
            guard await store.leads(.retention) else { continue }
            let logger = logger
            do {
                try await RetentionRun(store: store, clock: clock, policy: schedule.policy)
                    .apply(handOverTo: schedule.directory, actor: .retentionSchedule) { outcome in
                        switch outcome {
                        case .erased(let report):
                            logger.notice(
                                "retention: handed over and erased",
                                metadata: ["patient": "\(report.patientID)", "handOver": "\(report.handOver.path)"])
                        case .skipped(let patientID, let error):
                            logger.warning("retention: left for the next run", metadata: ["patient": "\(patientID)", "reason": "\(error)"])
                        case .stopped(let patientID, let error):
                            logger.critical(
                                "retention run stopped; nothing more was erased", metadata: ["patient": "\(patientID)", "error": "\(error)"])
                        }
                    }
            } catch is CancellationError {
                return
            } catch {
                logger.critical("retention run failed; nothing more was erased", metadata: ["error": "\(error)"])
            }
        }
    }
}
