import BedsideCore
import Foundation

/// Raises what cannot be seen on ingest: patients who have sent nothing within their programme's hours,
/// and assigned questionnaires past their due date. Runs on the server's housekeeping loop; tests call
/// `run` with their own clock. Re-running changes nothing while nothing changed (one open Flag per
/// patient and rule, and an unchanged alert is not written again).
public struct AlertScheduler: Sendable {
    public let store: any ServerStore
    public let clock: any WallClock

    public init(store: any ServerStore, clock: any WallClock) {
        self.store = store
        self.clock = clock
    }

    static let systemInfo = RequestInfo(
        principal: Principal(accountID: "scheduler", role: .admin, patientID: nil, practitionerID: nil, teamPatientIDs: [], tokenHash: ""),
        remoteAddress: "local", request: "scheduler", baseURL: "")

    /// Checks every patient once; returns how many alerts were raised or changed.
    @discardableResult
    public func run() async throws -> Int {
        let now = clock.now()
        return try await store.write { db in
            var changed = 0
            for account in try db.accounts() where account.role == .patient {
                guard let patientID = account.patientID else { continue }
                let rules = try ObservationFollowUp.rules(for: patientID, db: db)
                var latest = ResourceQuery(type: "Observation")
                latest.patientIDs = [patientID]
                latest.sort = [.date(ascending: false)]
                latest.count = 1
                let last = try db.search(latest).resources.first?.date
                var tasks = ResourceQuery(type: "Task")
                tasks.patientIDs = [patientID]
                tasks.statuses = ["requested"]
                tasks.count = 200
                let overdue: [(title: String, due: Int64)] = try db.search(tasks).resources.compactMap { task in
                    guard let due = task.date, due < now, let json = JSONParser.parseOrNil(task.json) else { return nil }
                    return (json["focus"]?["display"]?.stringValue ?? "a questionnaire", due)
                }
                let alerts = OverdueRule.alerts(
                    lastMeasurementAt: last, enrolledAt: account.createdAt, overdueQuestionnaires: overdue, hours: rules.measurementOverdueHours,
                    now: now)
                for alert in alerts {
                    if try AlertFlags.raise(alert, patientID: patientID, trigger: "Patient/\(patientID)", db: db, info: Self.systemInfo, now: now) {
                        changed += 1
                    }
                }
            }
            return changed
        }
    }
}
