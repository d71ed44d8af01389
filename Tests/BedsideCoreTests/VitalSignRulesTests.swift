import Testing

@testable import BedsideCore

/// The measurement alert rules, pure: bands and their edges, trends over days, remarks, programmes.
@Suite("Vital-sign alert rules")
struct VitalSignRulesTests {
    let day: Int64 = 86_400_000

    func record(_ kind: MeasurementKind, _ values: [(MeasurementPart, String)], at time: Int64 = 0, note: String? = nil) -> MeasurementRecord {
        MeasurementRecord(
            id: "r\(time)-\(values.first?.1 ?? "")", kind: kind, values: values.map { .init(part: $0.0, literal: $0.1) }, effectiveAt: time,
            utcOffsetSeconds: 0, note: note)
    }

    func bloodPressure(_ systolic: String, _ diastolic: String = "80") -> MeasurementRecord {
        record(.bloodPressure, [(.systolic, systolic), (.diastolic, diastolic)])
    }

    @Test("systolic: 159 nothing, 160 orange, 179 orange, 180 red; 99 orange, 89 red", arguments: [
        ("159", nil), ("160", AlertPriority.orange), ("179", .orange), ("180", .red), ("99", .orange), ("90", .orange), ("89", .red),
    ] as [(String, AlertPriority?)])
    func systolicBands(_ value: String, _ expected: AlertPriority?) throws {
        let rules = try #require(VitalSignRules.programme("default"))
        let alerts = rules.evaluate(bloodPressure(value), history: []).filter { $0.rule == "systolic" }
        #expect(alerts.first?.priority == expected)
        if expected != nil { #expect(alerts.first?.summary.hasPrefix("Systolic blood pressure \(value) mmHg") == true) }
    }

    @Test("SpO2 below 90 is red in the default programme; COPD's bands sit lower (88 orange-free, 84 red)")
    func saturation() throws {
        let standard = try #require(VitalSignRules.programme("default"))
        let copd = try #require(VitalSignRules.programme("copd"))
        let eightyNine = record(.oxygenSaturation, [(.oxygenSaturation, "89")])
        #expect(standard.evaluate(eightyNine, history: []).first?.priority == .red)
        #expect(standard.evaluate(eightyNine, history: []).first?.summary == "Oxygen saturation 89 % (< 90)")
        #expect(copd.evaluate(record(.oxygenSaturation, [(.oxygenSaturation, "88")]), history: []).isEmpty)
        #expect(copd.evaluate(record(.oxygenSaturation, [(.oxygenSaturation, "84")]), history: []).first?.priority == .red)
    }

    @Test("heart failure: weight +2 kg within 3 days is orange, against the lowest of those days; older ones do not count")
    func weightTrend() throws {
        let rules = try #require(VitalSignRules.programme("heart-failure"))
        let history = [
            record(.bodyWeight, [(.bodyWeight, "78.0")], at: 0),
            record(.bodyWeight, [(.bodyWeight, "80.5")], at: 2 * day),
            record(.bodyWeight, [(.bodyWeight, "81.0")], at: 3 * day),
        ]
        let today = record(.bodyWeight, [(.bodyWeight, "82.6")], at: 4 * day)
        let alert = try #require(rules.evaluate(today, history: history).first)
        #expect(alert.rule == "weight-gain" && alert.priority == .orange)
        #expect(alert.summary == "Body weight +2.1 kg within 3 days (80.5 → 82.6 kg)")
        #expect(rules.evaluate(record(.bodyWeight, [(.bodyWeight, "82.4")], at: 4 * day), history: history).isEmpty, "+1.9")
        #expect(try #require(VitalSignRules.programme("default")).evaluate(today, history: history).isEmpty, "no trend rule outside heart failure")
    }

    @Test("a remark with a measurement is a gray alert; a normal value without one is nothing")
    func remark() throws {
        let rules = try #require(VitalSignRules.programme("default"))
        #expect(rules.evaluate(bloodPressure("128"), history: []).isEmpty)
        let alerts = rules.evaluate(record(.heartRate, [(.heartRate, "72")], note: "Dizzy when standing up"), history: [])
        #expect(alerts.map(\.rule) == ["remark"])
        #expect(alerts.first?.priority == .gray)
    }

    @Test("the programmes are data: every one has its rules, and unknown names are refused")
    func programmes() {
        for name in VitalSignRules.programmeNames { #expect(VitalSignRules.programme(name)?.thresholds.isEmpty == false, "\(name)") }
        #expect(VitalSignRules.programme("cardiology") == nil)
    }

    @Test("overdue: past the programme's hours since the last measurement (or enrolment); late questionnaires, oldest first")
    func overdue() {
        let hour: Int64 = 3_600_000
        #expect(OverdueRule.alerts(lastMeasurementAt: 0, enrolledAt: 0, overdueQuestionnaires: [], hours: 72, now: 72 * hour).isEmpty)
        let late = OverdueRule.alerts(lastMeasurementAt: 0, enrolledAt: 0, overdueQuestionnaires: [], hours: 72, now: 72 * hour + 1)
        #expect(late.map(\.summary) == ["No measurement for 3 days (last 1970-01-01)"])
        #expect(OverdueRule.alerts(lastMeasurementAt: nil, enrolledAt: 0, overdueQuestionnaires: [], hours: 36, now: 40 * hour).first?.summary
            == "No measurement yet, 1 day after enrolment")
        let questionnaires = OverdueRule.alerts(
            lastMeasurementAt: 10 * hour, enrolledAt: 0, overdueQuestionnaires: [("PHQ-9", 5 * hour), ("Check-in", 2 * hour), ("Later", 99 * hour)],
            hours: nil, now: 11 * hour)
        #expect(questionnaires.count == 1)
        #expect(questionnaires.first?.reasons == [
            "Questionnaire overdue: Check-in (due 1970-01-01)", "Questionnaire overdue: PHQ-9 (due 1970-01-01)",
        ])
        #expect(VitalSignRules.programme("heart-failure")?.measurementOverdueHours == 36)
    }

    @Test("rules written by hand are checked: the programmes pass; crossed, overlapping or impossible bands, an unknown part, a doubled id are each named")
    func checking() {
        for name in VitalSignRules.programmeNames { #expect(VitalSignRules.programme(name)?.problems == [], "\(name)") }
        let rules = VitalSignRules(
            programme: "default",
            thresholds: [
                ThresholdRule(id: "spo2", part: "2708-6", orangeBelow: 88, redBelow: 90),
                ThresholdRule(id: "hr", part: "8867-4", orangeAtOrAbove: 60, orangeBelow: 70),
                ThresholdRule(id: "temp", part: "8310-5", redAtOrAbove: 60),
                ThresholdRule(id: "none", part: "8480-6"),
            ],
            trends: [TrendRule(id: "temp", part: "29463-7", change: 0, withinDays: 3, priority: .orange)],
            measurementOverdueHours: 0)
        #expect(rules.problems == [
            "thresholds[0] (spo2): redBelow (90) must not be above orangeBelow (88).",
            "thresholds[1] (hr): the low bands (below 70) overlap the high ones (from 60).",
            "thresholds[2] (temp): redAtOrAbove 60 is outside what a body temperature can be (25–45 Cel).",
            "thresholds[3] (none): give at least one of redAtOrAbove, orangeAtOrAbove, orangeBelow, redBelow.",
            "trends[0] (temp): the id 'temp' is used twice; each rule needs its own (one open Flag per patient and rule).",
            "trends[0] (temp): change must be a rise (positive) or a fall (negative), not 0.",
            "measurementOverdueHours must be 1 to 720 hours, or left out for none (it is 0).",
        ])
    }

    @Test("a Flag's new version names the nurse's decisions: handled, escalated, snoozed, a note; a version that decides nothing names none")
    func triageDecisions() {
        let flag: JSONValue = ["resourceType": "Flag", "status": "active", "code": ["text": "SpO2 88 %"]]
        let noted = FlagTriage.apply(.note, note: "Rang her", by: "Nurse Anna", at: 1_000, to: flag)
        #expect(FlagTriage.decisions(from: flag, to: noted) == ["flag-note"])
        let escalated = FlagTriage.apply(.escalate, note: "GP informed", by: "Nurse Anna", at: 2_000, to: noted)
        #expect(FlagTriage.decisions(from: noted, to: escalated) == ["flag-escalated", "flag-note"])
        let snoozed = FlagTriage.apply(.snooze(until: 3_600_000), note: nil, by: "Nurse Ben", at: 3_000, to: escalated)
        #expect(FlagTriage.decisions(from: escalated, to: snoozed) == ["flag-snoozed"])
        let handled = FlagTriage.apply(.handle, note: "Better", by: "Nurse Ben", at: 4_000, to: snoozed)
        #expect(FlagTriage.decisions(from: snoozed, to: handled) == ["flag-handled", "flag-note"])
        #expect(FlagTriage.decisions(from: handled, to: handled).isEmpty)
    }
}
