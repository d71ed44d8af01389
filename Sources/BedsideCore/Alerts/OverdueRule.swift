/// Overdue: no measurement within the programme's hours, or an assigned questionnaire past its due
/// date. Checked on a schedule, not on ingest, because it is raised by what did not arrive.
public enum OverdueRule {
    public static let measurementsRule = "overdue-measurements"
    public static let questionnairesRule = "overdue-questionnaire"

    /// `lastMeasurementAt` nil: none yet, counted from `enrolledAt`. `overdueQuestionnaires`: titles and due times.
    public static func alerts(
        lastMeasurementAt: Int64?, enrolledAt: Int64, overdueQuestionnaires: [(title: String, due: Int64)], hours: Int?, now: Int64
    ) -> [Alert] {
        var alerts: [Alert] = []
        if let hours, hours > 0 {
            let since = lastMeasurementAt ?? enrolledAt
            if now - since > Int64(hours) * 3_600_000 {
                let days = (now - since) / 86_400_000
                let span = days >= 1 ? "\(days) day\(days == 1 ? "" : "s")" : "\((now - since) / 3_600_000) hours"
                let summary = lastMeasurementAt == nil
                    ? "No measurement yet, \(span) after enrolment"
                    : "No measurement for \(span) (last \(FHIRDateTime.format(epochMilliseconds: since).prefix(10)))"
                alerts.append(Alert(
                    rule: measurementsRule, priority: .orange, summary: summary, reasons: [summary],
                    code: AnswerValue.Coding(system: nil, code: nil, display: "Measurements overdue")))
            }
        }
        let late = overdueQuestionnaires.filter { $0.due < now }.sorted { $0.due < $1.due }
        if !late.isEmpty {
            let reasons = late.map { "Questionnaire overdue: \($0.title) (due \(FHIRDateTime.format(epochMilliseconds: $0.due).prefix(10)))" }
            alerts.append(Alert(
                rule: questionnairesRule, priority: .gray, summary: reasons[0], reasons: reasons,
                code: AnswerValue.Coding(system: nil, code: nil, display: "Questionnaire overdue")))
        }
        return alerts
    }
}
