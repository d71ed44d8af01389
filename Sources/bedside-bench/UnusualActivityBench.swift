import BedsideCore
import BedsideServerKit
import Foundation

/// What watching for unusual activity costs: one look at an hour of a busy server's audit trail, and
/// the audit index by actor it needs (v15) on the writes, against a store without them in the same run.
struct UnusualActivityCost {
    /// Audit events in the hour looked at.
    var events: Int

    /// A busy hour: patients' own reads and uploads most of it, clinicians at the kiosk, logins, an EMR.
    static func hour(_ count: Int, at start: Int64) -> [AuditEvent] {
        (0..<count).map { index in
            let at = start + Int64(index) * 3_500_000 / Int64(max(count, 1))
            let patient = "patient-\(index % 5_000)"
            switch index % 100 {
            case 0..<80:
                return AuditEvent(
                    at: at, actorID: "account-\(index % 5_000)", actorRole: "patient", action: index % 2 == 0 ? "create" : "search",
                    resourceType: "Observation", patientID: patient, outcome: "success", httpStatus: 200, remoteAddress: "10.0.\(index % 250).1",
                    request: "POST /fhir")
            case 80..<96:
                return AuditEvent(
                    at: at, actorID: "clinician-\(index % 40)", actorRole: "clinician", action: "search", resourceType: "Flag",
                    patientID: "patient-\(index % 300)", outcome: "success", httpStatus: 200, remoteAddress: "10.1.0.\(index % 40)",
                    request: "GET /fhir/Flag")
            case 96..<98:
                return AuditEvent(
                    at: at, actorID: "account-\(index % 5_000)", actorRole: "patient", action: index % 4 == 0 ? "login" : "login-failure",
                    outcome: index % 4 == 0 ? "success" : "failure", httpStatus: index % 4 == 0 ? 200 : 401,
                    remoteAddress: "10.0.\(index % 250).1", request: "POST /auth/login")
            default:
                return AuditEvent(
                    at: at, actorID: "emr-client", actorRole: "system", action: "search", resourceType: "Observation", patientID: patient,
                    outcome: "success", httpStatus: 200, remoteAddress: "10.2.0.1", request: "GET /fhir/Observation")
            }
        }
    }

    func run() async throws -> JSONValue {
        let start = SystemClock().now() - SystemClock().now() % 3_600_000
        let events = Self.hour(events, at: start)
        var appendMS: [String: Double] = [:]
        var lookMS: [Double] = []
        for variant in ["without-indexes", "with-indexes"] {
            let directory = URL(fileURLWithPath: NSTemporaryDirectory() + "bedside-bench-watch-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            var configuration = ServerConfiguration(dataDirectory: directory)
            configuration.hasher = .testing
            let store = try configuration.openStore()
            if variant == "without-indexes" {
                try store.dropIndexesForBenchmark(["audit_event_clinician", "audit_event_system"])
            }
            // Appended as the server appends them: in group commits of 100.
            let (_, milliseconds) = try await measureAsync {
                for batch in stride(from: 0, to: events.count, by: 100) {
                    let slice = Array(events[batch..<min(batch + 100, events.count)])
                    try await store.write { db in try db.append(slice) }
                }
            }
            appendMS[variant] = milliseconds
            if variant == "with-indexes" {
                let clock = ManualClock(epochMilliseconds: start + 3_599_000)
                for _ in 0..<5 {
                    let watch = UnusualActivityWatch(store: store, clock: clock, settings: UnusualActivitySettings())
                    try store.writeNow { db in try db.setWatchedUntilHour(start) }
                    let (_, look) = try await measureAsync { try await watch.run() }
                    lookMS.append(look)
                }
            }
            try store.close()
        }
        let without = appendMS["without-indexes"] ?? 0
        let with = appendMS["with-indexes"] ?? 0
        let look = lookMS.sorted()[lookMS.count / 2]
        return [
            "auditEventsInTheHour": .number(Double(events.count)),
            "appendSeconds": ["withoutWatchIndexes": .number(round3(without / 1000)), "withWatchIndexes": .number(round3(with / 1000))],
            "appendRatio": .number(round3(with / max(without, 0.001))),
            "lookAtTheHourMs": ["median": .number(round3(look)), "all": .array(lookMS.map { .number(round3($0)) })],
            "shareOfEachMinute": .number(round3(look / 60_000)),
        ]
    }
}
