/// What a rule found: how urgent, what to call it, and the values that triggered it, in words a nurse reads.
public struct Alert: Sendable, Equatable {
    /// Which rule raised it (one open alert per patient and rule).
    public var rule: String
    public var priority: AlertPriority
    /// A short title, e.g. "PHQ-9 total 17 (≥ 15)".
    public var summary: String
    /// Each triggering value, e.g. "item 9 (thoughts of self-harm) answered 2".
    public var reasons: [String]
    /// The code of what was measured or scored (system, code, display).
    public var code: AnswerValue.Coding

    public init(rule: String, priority: AlertPriority, summary: String, reasons: [String], code: AnswerValue.Coding) {
        self.rule = rule
        self.priority = priority
        self.summary = summary
        self.reasons = reasons
        self.code = code
    }
}

/// The PHQ-9 rule: a total of 15 or more (moderately severe or severe depression), or any answer above
/// "not at all" to item 9 (thoughts of being better off dead or of self-harm), is a red alert for the
/// care team. The total is worked out here from the answers' ordinal values, never taken from the
/// response's own total, which the client computed.
public enum PHQ9Rule {
    public static let ruleName = "phq9"
    public static let panelCode = "44249-1"
    public static let totalCode = "44261-6"
    /// LOINC codes of the nine scored items, in order; the last is item 9.
    public static let itemCodes = ["44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3", "44260-8"]
    public static let totalThreshold: Double = 15

    /// Whether the form is a PHQ-9: by its LOINC panel or total code, else by its name.
    public static func recognises(_ questionnaire: Questionnaire) -> Bool {
        let formCodes = codes(questionnaire.source["code"])
        if formCodes.contains(panelCode) { return true }
        if questionnaire.allItems.contains(where: { codes($0.source["code"]).contains(totalCode) }) { return true }
        let names = [questionnaire.url, questionnaire.name, questionnaire.title].compactMap { $0?.lowercased() }
        return names.contains { $0.contains("phq-9") || $0.contains("phq9") || $0.contains("phq_9") }
    }

    /// The nine scored items: coded with the PHQ-9 item codes when the form codes them, else the first
    /// nine choice items whose options carry ordinal values, in form order.
    public static func scoredItems(of questionnaire: Questionnaire) -> [QuestionnaireItem] {
        let all = questionnaire.allItems
        let coded = itemCodes.compactMap { code in all.first { codes($0.source["code"]).contains(code) } }
        if coded.count == itemCodes.count { return coded }
        let scored = all.filter { item in
            (item.type == .choice || item.type == .openChoice)
                && (questionnaire.options(for: item) ?? []).contains { $0.score != nil }
        }
        return Array(scored.prefix(itemCodes.count))
    }

    /// The alert for these answers, or nil when there is none (or the form is not a PHQ-9).
    public static func evaluate(_ questionnaire: Questionnaire, answers: [ResponseItem]) -> Alert? {
        guard recognises(questionnaire) else { return nil }
        let items = scoredItems(of: questionnaire)
        guard items.count == itemCodes.count else { return nil }
        var total: Double = 0
        var answered = 0
        var itemNine: Double?
        for (index, item) in items.enumerated() {
            guard let value = answers.find(item.linkId)?.answers.first?.value,
                let score = (questionnaire.options(for: item) ?? []).first(where: { EnableWhenEvaluator.equal(value, $0.value) })?.score
            else { continue }
            total += score
            answered += 1
            if index == items.count - 1 { itemNine = score }
        }
        var reasons: [String] = []
        let totalText = number(total)
        if total >= totalThreshold {
            reasons.append("PHQ-9 total \(totalText) (≥ \(number(totalThreshold)))" + (answered < items.count ? ", \(answered) of 9 answered" : ""))
        }
        if let itemNine, itemNine > 0 {
            reasons.append("PHQ-9 item 9 (thoughts of being better off dead or of self-harm) answered \(number(itemNine))")
        }
        guard !reasons.isEmpty else { return nil }
        return Alert(
            rule: ruleName, priority: .red, summary: reasons[0], reasons: reasons,
            code: AnswerValue.Coding(system: "http://loinc.org", code: totalCode, display: "PHQ-9 total score \(totalText)"))
    }

    private static func codes(_ concepts: JSONValue?) -> [String] {
        (concepts?.arrayValue ?? []).compactMap { $0["code"]?.stringValue }
    }

    private static func number(_ value: Double) -> String {
        value.plainText
    }
}
