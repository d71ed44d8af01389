import BedsideCore
import Foundation

/// What the server does when a patient's measurement is stored, in the same transaction: the patient's
/// care programme's rules run on it (thresholds, trends, a remark), and each alert becomes a Flag, or
/// updates the open one of that patient and rule (one open Flag per patient, rule and episode).
@_spi(Benchmarks) public enum ObservationFollowUp {
    static let programmeExtensionURL = VitalSignRules.programmeExtensionURL

    /// `only` limits which of the rules' alerts are raised (a remark added later raises only its own).
    static func apply(
        _ stored: StoredResource, db: any StoreWriting, info: RequestInfo, now: Int64, memo: FHIRService.TransactionMemo? = nil,
        only: (Alert) -> Bool = { _ in true }
    ) throws {
        guard stored.type == SupportedResource.observation.rawValue, let patientID = stored.patientID,
            let json = JSONParser.parseOrNil(stored.json), json["status"]?.stringValue != "entered-in-error",
            let record = ObservationReader.record(from: json)
        else { return }
        let rules = try memo.map { memo in Self.rules(of: try memo.patient(patientID, db: db)) } ?? Self.rules(for: patientID, db: db)
        let history = try recentHistory(of: record.kind, patientID: patientID, before: record.effectiveAt, days: rules.trendDays(for: record), db: db)
        for alert in rules.evaluate(record, history: history) where only(alert) {
            try AlertFlags.raise(alert, patientID: patientID, trigger: "Observation/\(stored.id)", db: db, info: info, now: now)
        }
    }

    /// The rules run on a stored measurement as on ingest, recorded as the system's doing: what
    /// `bedside-bench kiosk` times.
    @_spi(Benchmarks) public static func evaluate(_ stored: StoredResource, db: any StoreWriting, now: Int64) throws {
        try apply(stored, db: db, info: AlertScheduler.systemInfo, now: now)
    }

    /// Where a Patient keeps rules of their own (JSON of `VitalSignRules`), set with `rules set --file`.
    static let ownRulesExtensionURL = BedsideExtension.alertRules.url

    /// The rules that apply to the patient: their own if they have them, else their programme's.
    static func rules(for patientID: String, db: any StoreReading) throws -> VitalSignRules {
        let patient = try db.resource(type: "Patient", id: patientID).flatMap { JSONParser.parseOrNil($0.json) }
        return rules(of: patient)
    }

    static func rules(of patient: JSONValue?) -> VitalSignRules {
        let extensions = patient?["extension"]?.arrayValue ?? []
        if let own = extensions.first(where: { $0["url"]?.stringValue == ownRulesExtensionURL })?["valueString"]?.stringValue,
            let rules = try? JSONDecoder().decode(VitalSignRules.self, from: Data(own.utf8)), rules.problems.isEmpty
        {
            return rules
        }
        let name = patient.flatMap(VitalSignRules.programme(of:))
        return name.flatMap(VitalSignRules.programme) ?? VitalSignRules.programme("default") ?? VitalSignRules(programme: "default", thresholds: [])
    }

    /// Whether the patient's rules are their own rather than their programme's.
    static func hasOwnRules(_ patient: JSONValue?) -> Bool {
        (patient?["extension"]?.arrayValue ?? []).contains { $0["url"]?.stringValue == ownRulesExtensionURL }
    }

    /// The patient's measurements of `kind` in the days before `time` (index-backed: patient, code, date).
    static func recentHistory(of kind: MeasurementKind, patientID: String, before time: Int64, days: Int, db: any StoreReading) throws
        -> [MeasurementRecord]
    {
        guard days > 0, let since = FHIRDateTime(FHIRDateTime.format(epochMilliseconds: time - Int64(days) * 86_400_000)) else { return [] }
        var query = ResourceQuery(type: "Observation")
        query.patientIDs = [patientID]
        query.codes = [kind.loincCodes.map { TokenSearch.code($0, system: MeasurementKind.loincSystem) }]
        query.dates = [ResourceQuery.DateCondition(comparison: .ge, value: since)]
        if let until = FHIRDateTime(FHIRDateTime.format(epochMilliseconds: time)) {
            // Not what was measured after this reading (a backfilled old value is judged by its own days).
            query.dates.append(ResourceQuery.DateCondition(comparison: .le, value: until))
        }
        query.sort = [.date(ascending: false)]
        query.count = 200
        return try db.search(query).resources.compactMap { JSONParser.parseOrNil($0.json).flatMap(ObservationReader.record(from:)) }
            .filter { $0.syncState != .withdrawn }
    }
}

extension VitalSignRules {
    /// How many days of history the trends that judge this reading need: none when no trend looks at
    /// any of its values (a heart-failure patient's heart rate reads no history; their weight does).
    func trendDays(for record: MeasurementRecord) -> Int {
        trends.filter { rule in record.values.contains { $0.part.loincCode == rule.part } }.map(\.withinDays).max() ?? 0
    }
}

/// Alerts into Flags: a new Flag, or, when the patient already has an open one for that rule, a new
/// version of it (priority raised if the new alert is more urgent, the latest values as its reasons).
enum AlertFlags {
    /// Returns whether anything was written (an unchanged alert on an open Flag is not written again).
    @discardableResult
    static func raise(_ alert: Alert, patientID: String, trigger: String, db: any StoreWriting, info: RequestInfo, now: Int64) throws -> Bool {
        var query = ResourceQuery(type: "Flag")
        query.patientIDs = [patientID]
        query.statuses = ["active"]
        query.count = 1000
        let open = try db.search(query).resources.first { stored in
            JSONParser.parseOrNil(stored.json).map { FlagBuilder.rule(of: $0) == alert.rule } ?? false
        }
        guard let open, let current = JSONParser.parseOrNil(open.json) else {
            let id = UUID().uuidString.lowercased()
            try db.create(FHIRService.stamp(FlagBuilder.flag(for: alert, patientID: patientID, trigger: trigger, at: now), type: .flag, id: id, version: 1, at: now))
            try db.append([info.audit("flag-raised", type: "Flag", id: id, patientID: patientID, status: 201, at: now)])
            return true
        }
        // The same episode: never a lower priority; when it started, and the nurses' notes and decisions, stay.
        let currentPriority = AlertPriority(flag: current) ?? .gray
        var raised = alert
        raised.priority = max(alert.priority, currentPriority)
        var object = FlagBuilder.flag(for: raised, patientID: patientID, trigger: trigger, at: now).objectValue ?? [:]
        if raised.priority == currentPriority, current["code"]?["text"] == object["code"]?["text"] { return false }
        object["period"] = current["period"]
        let kept = (current["extension"]?.arrayValue ?? []).filter { !FlagBuilder.writtenExtensionURLs.contains($0["url"]?.stringValue ?? "") }
        object["extension"] = .array((object["extension"]?.arrayValue ?? []) + kept)
        let fresh = JSONValue.object(object)
        try db.put(FHIRService.stamp(fresh, type: .flag, id: open.id, version: open.versionID + 1, at: max(now, open.lastUpdated + 1)))
        try db.append([info.audit("flag-updated", type: "Flag", id: open.id, patientID: patientID, status: 200, at: now)])
        return true
    }
}
