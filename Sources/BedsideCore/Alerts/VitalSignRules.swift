/// Thresholds on one measured part, with an orange and a red band on either side. A value at a band's
/// edge is in the band (systolic 180 is red when red is "≥ 180"; SpO2 89 is red when red is "< 90").
public struct ThresholdRule: Sendable, Equatable, Codable {
    /// Names the rule in Flags (one open Flag per patient and rule).
    public var id: String
    /// The LOINC code of the part (systolic 8480-6, SpO2 2708-6 …).
    public var part: String
    public var redAtOrAbove: Double?
    public var orangeAtOrAbove: Double?
    public var orangeBelow: Double?
    public var redBelow: Double?

    public init(id: String, part: String, redAtOrAbove: Double? = nil, orangeAtOrAbove: Double? = nil, orangeBelow: Double? = nil, redBelow: Double? = nil) {
        self.id = id
        self.part = part
        self.redAtOrAbove = redAtOrAbove
        self.orangeAtOrAbove = orangeAtOrAbove
        self.orangeBelow = orangeBelow
        self.redBelow = redBelow
    }
}

/// A change over a few days, e.g. weight +2 kg within 3 days in heart failure.
public struct TrendRule: Sendable, Equatable, Codable {
    public var id: String
    public var part: String
    /// The rise (positive) or fall (negative) that alerts, in the part's unit.
    public var change: Double
    public var withinDays: Int
    public var priority: String

    public init(id: String, part: String, change: Double, withinDays: Int, priority: AlertPriority) {
        self.id = id
        self.part = part
        self.change = change
        self.withinDays = withinDays
        self.priority = priority.rawValue
    }
}

/// The rules for a patient's measurements: data, with defaults per care programme.
public struct VitalSignRules: Sendable, Equatable, Codable {
    public var programme: String
    public var thresholds: [ThresholdRule]
    public var trends: [TrendRule]
    /// Hours without any measurement after which the patient is overdue (checked on a schedule).
    public var measurementOverdueHours: Int?

    public init(programme: String, thresholds: [ThresholdRule], trends: [TrendRule] = [], measurementOverdueHours: Int? = 72) {
        self.programme = programme
        self.thresholds = thresholds
        self.trends = trends
        self.measurementOverdueHours = measurementOverdueHours
    }

    static let common: [ThresholdRule] = [
        ThresholdRule(id: "systolic", part: MeasurementPart.systolic.loincCode, redAtOrAbove: 180, orangeAtOrAbove: 160, orangeBelow: 100, redBelow: 90),
        ThresholdRule(id: "diastolic", part: MeasurementPart.diastolic.loincCode, redAtOrAbove: 120, orangeAtOrAbove: 100),
        ThresholdRule(id: "heart-rate", part: MeasurementPart.heartRate.loincCode, redAtOrAbove: 130, orangeAtOrAbove: 110, orangeBelow: 50, redBelow: 40),
        ThresholdRule(id: "spo2", part: MeasurementPart.oxygenSaturation.loincCode, orangeBelow: 92, redBelow: 90),
        ThresholdRule(id: "temperature", part: MeasurementPart.bodyTemperature.loincCode, redAtOrAbove: 40, orangeAtOrAbove: 38.5, orangeBelow: 35.5, redBelow: 35),
        ThresholdRule(id: "respiratory-rate", part: MeasurementPart.respiratoryRate.loincCode, redAtOrAbove: 30, orangeAtOrAbove: 25, redBelow: 8),
        ThresholdRule(id: "glucose", part: MeasurementPart.glucoseMolar.loincCode, redAtOrAbove: 25, orangeAtOrAbove: 15, orangeBelow: 4, redBelow: 3),
        ThresholdRule(id: "glucose-mass", part: MeasurementPart.glucoseMass.loincCode, redAtOrAbove: 450, orangeAtOrAbove: 270, orangeBelow: 72, redBelow: 54),
    ]

    /// The built-in programmes: `default`, `heart-failure`, `copd`, `diabetes`.
    public static func programme(_ name: String) -> VitalSignRules? {
        switch name {
        case "default":
            return VitalSignRules(programme: name, thresholds: common)
        case "heart-failure":
            return VitalSignRules(
                programme: name, thresholds: common,
                trends: [TrendRule(id: "weight-gain", part: MeasurementPart.bodyWeight.loincCode, change: 2, withinDays: 3, priority: .orange)],
                // Daily weighing is the point of heart-failure monitoring: a day and a half without is overdue.
                measurementOverdueHours: 36)
        case "copd":
            // People with COPD often live at lower saturations; their bands sit lower.
            var thresholds = common.filter { $0.id != "spo2" }
            thresholds.append(ThresholdRule(id: "spo2", part: MeasurementPart.oxygenSaturation.loincCode, orangeBelow: 88, redBelow: 85))
            return VitalSignRules(programme: name, thresholds: thresholds)
        case "diabetes":
            return VitalSignRules(programme: name, thresholds: common)
        default:
            return nil
        }
    }

    public static let programmeNames = ["default", "heart-failure", "copd", "diabetes"]

    /// Where a Patient names its care programme (`heart-failure`, `copd`, `diabetes`; else `default`).
    public static let programmeExtensionURL = BedsideExtension.careProgramme.url

    /// The care programme a Patient resource names, if any.
    public static func programme(of patient: JSONValue) -> String? {
        (patient["extension"]?.arrayValue ?? []).first { $0["url"]?.stringValue == programmeExtensionURL }?["valueCode"]?.stringValue
    }

    /// Alerts for a new measurement, given the patient's earlier ones (any order, any kinds).
    public func evaluate(_ record: MeasurementRecord, history: [MeasurementRecord]) -> [Alert] {
        var alerts: [Alert] = []
        for value in record.values {
            guard let number = Double(value.literal) else { continue }
            for rule in thresholds where rule.part == value.part.loincCode {
                if let alert = Self.threshold(rule, value: number, part: value.part) { alerts.append(alert) }
            }
            for rule in trends where rule.part == value.part.loincCode {
                if let alert = Self.trend(rule, record: record, value: number, part: value.part, history: history) { alerts.append(alert) }
            }
        }
        if let note = record.note?.trimmingCharacters(in: " "), !note.isEmpty {
            alerts.append(Alert(
                rule: "remark", priority: .gray, summary: "Remark: \(note)", reasons: ["Remark with \(record.kind.loincDisplay.lowercased()): \(note)"],
                code: AnswerValue.Coding(system: MeasurementKind.loincSystem, code: record.kind.loincCodes.first, display: "Patient remark")))
        }
        return alerts
    }

    static func threshold(_ rule: ThresholdRule, value: Double, part: MeasurementPart) -> Alert? {
        let text = "\(part.display) \(format(value)) \(part.ucumCode == "mm[Hg]" ? "mmHg" : part.ucumCode)"
        let bands: [(AlertPriority, Double?, Bool)] = [
            (.red, rule.redAtOrAbove, true), (.red, rule.redBelow, false), (.orange, rule.orangeAtOrAbove, true), (.orange, rule.orangeBelow, false),
        ]
        for (priority, limit, above) in bands {
            guard let limit else { continue }
            let hit = above ? value >= limit : value < limit
            guard hit else { continue }
            let reason = "\(text) (\(above ? "≥" : "<") \(format(limit)))"
            return Alert(
                rule: rule.id, priority: priority, summary: reason, reasons: [reason],
                code: AnswerValue.Coding(system: MeasurementKind.loincSystem, code: part.loincCode, display: part.display))
        }
        return nil
    }

    static func trend(_ rule: TrendRule, record: MeasurementRecord, value: Double, part: MeasurementPart, history: [MeasurementRecord]) -> Alert? {
        let window = Int64(rule.withinDays) * 86_400_000
        let earlier = history.filter { $0.effectiveAt < record.effectiveAt && $0.effectiveAt >= record.effectiveAt - window && $0.id != record.id }
            .compactMap { other -> Double? in other.values.first { $0.part == part }.flatMap { Double($0.literal) } }
        guard let baseline = rule.change >= 0 ? earlier.min() : earlier.max() else { return nil }
        let change = value - baseline
        guard rule.change >= 0 ? change >= rule.change : change <= rule.change else { return nil }
        let unit = part.ucumCode
        let reason = "\(part.display) \(change >= 0 ? "+" : "")\(format(change)) \(unit) within \(rule.withinDays) days (\(format(baseline)) → \(format(value)) \(unit))"
        return Alert(
            rule: rule.id, priority: AlertPriority(rawValue: rule.priority) ?? .orange, summary: reason, reasons: [reason],
            code: AnswerValue.Coding(system: MeasurementKind.loincSystem, code: part.loincCode, display: part.display))
    }

    static func format(_ value: Double) -> String {
        ((value * 10).rounded() / 10).plainText
    }
}
