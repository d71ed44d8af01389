import BedsideCore

/// The kiosk's patient overview (`o` on an alert): who the patient is and how to reach them, every
/// kind of measurement with its latest value and a one-line chart of the last 30 days, their open
/// alerts (from the queue the kiosk holds) and their latest answers. Fits 80x24; wider screens give
/// the chart its range.
extension Painter {
    /// "80 years · tel. +31 6 1234 5601 · programme: heart failure", as far as the Patient says.
    func contactLine(_ contact: PatientContact) -> String? {
        var parts: [String] = []
        if let birthDate = contact.birthDate, let years = Age.years(birthDate: birthDate, at: state.now, zone: state.zone) {
            parts.append(t.text(.kioskAge, String(years)))
        }
        if let phone = contact.phone { parts.append(t.text(.kioskPhone, phone)) }
        if let programme = contact.programme { parts.append(t.text(.kioskProgramme, programmeName(programme))) }
        return parts.isEmpty ? nil : parts.joined(separator: " · ")
    }

    /// A built-in programme in the nurse's language; another code as the server wrote it.
    func programmeName(_ code: String) -> String {
        switch code {
        case "default": t.text(.programmeDefault)
        case "heart-failure": t.text(.programmeHeartFailure)
        case "copd": t.text(.programmeCOPD)
        case "diabetes": t.text(.programmeDiabetes)
        default: code
        }
    }

    mutating func patientOverview(_ alert: KioskAlert) {
        title(t.text(.kioskOverviewTitle, alert.patientName))
        hints = t.text(.kioskHintOverview)
        let overview = state.patientOverview.flatMap { $0.patientID == alert.patientID ? $0 : nil }
        // Rows from height - 2 down are the message line and the key hints: nothing is drawn there.
        var row = top + 1
        if let line = contactLine(overview?.contact ?? alert.contact), row < height - 2 {
            frame.put(line, x: 1, y: row, role: .accent, maxWidth: width - 2)
        }
        row += 2
        guard row < height - 2 else { return }
        guard let overview else {
            frame.put(t.text(.kioskOverviewLoading), x: 3, y: row, role: .muted, maxWidth: width - 4)
            return
        }
        if let failure = overview.failure {
            paragraph(t.text(.kioskOverviewFailed, failure), y: row, role: .error)
            return
        }
        row = measurementRows(overview, y: row) + 1
        row = openAlerts(of: alert.patientID, y: row) + 1
        guard row < height - 2 else { return }
        if overview.answers.isEmpty {
            frame.put(t.text(.kioskOverviewNoAnswers), x: 1, y: row, role: .muted, maxWidth: width - 2)
        } else {
            let list = overview.answers.prefix(3).map { "\($0.title) (\(when($0.authored)))" }.joined(separator: ", ")
            paragraph(t.text(.kioskRecentAnswers, list), y: row, role: .muted)
        }
    }

    /// One line per kind: its name, latest value, when, and the last 30 days (blood pressure by its
    /// upper value). Returns the next free row.
    private mutating func measurementRows(_ overview: PatientOverview, y: Int) -> Int {
        let layout = OverviewColumns(width: width)
        var row = y
        guard row < height - 3 else { return row }
        frame.put(t.text(.kioskOverviewLatest), x: layout.value, y: row, role: .muted, maxWidth: layout.when - layout.value - 1)
        frame.put(t.text(.kioskOverviewTrend), x: layout.chart, y: row, role: .muted, maxWidth: width - layout.chart - 1)
        row += 1
        for kind in MeasurementKind.allCases where row < height - 3 {
            frame.put(TextWidth.truncate(t.kindName(kind), to: layout.value - 2), x: 1, y: row, role: .text)
            guard let latest = overview.latest[kind] else {
                frame.put(t.text(.kioskOverviewNone), x: layout.value, y: row, role: .muted, maxWidth: layout.when - layout.value - 1)
                row += 1
                continue
            }
            // The pulse a blood-pressure reading may carry has its own line (heart rate).
            let value = t.value(of: latest).components(separatedBy: " · ").first ?? ""
            frame.put(value, x: layout.value, y: row, role: .text, maxWidth: layout.when - layout.value - 1)
            // Today's by time ("3 h ago"), older ones by day.
            let age = latest.timePrecision != .time ? measuredAt(latest) : state.now - latest.effectiveAt < 86_400_000 ? ago(latest.effectiveAt)
                : state.language.date(epochMilliseconds: latest.effectiveAt, utcOffsetSeconds: state.zone.offset(at: latest.effectiveAt))
            frame.put(age, x: layout.when, y: row, role: .muted, maxWidth: layout.chart - layout.when - 1)
            let part = kind == .bloodPressure ? MeasurementPart.systolic : latest.values.first?.part
            let readings: [(at: Int64, value: Double)] = (overview.readings[kind] ?? []).compactMap { record in
                // Only finite numbers have a height: a server's "1e400" is a day without a value.
                guard let part, let value = record.literal(part).flatMap(Double.init), value.isFinite else { return nil }
                return (record.effectiveAt, value)
            }
            let days = TextChart.daily(readings, days: layout.days, endingAt: state.now, zone: state.zone)
            // No reading in 30 days: the base line alone, so the gap shows.
            if days.allSatisfy({ $0 == nil }) { frame.put(String(repeating: "·", count: layout.days), x: layout.chart, y: row, role: .muted) }
            if let line = TextChart.render(days, rows: 1).first {
                frame.put(line, x: layout.chart, y: row, role: .accent)
                let values = readings.map(\.value)
                if let low = values.min(), let high = values.max(), layout.chart + layout.days + 2 < width {
                    let range = state.language.number(DecimalText.oneDecimal(low)) + "–" + state.language.number(DecimalText.oneDecimal(high))
                    frame.put(range, x: layout.chart + layout.days + 1, y: row, role: .muted, maxWidth: width - layout.chart - layout.days - 2)
                }
            }
            row += 1
        }
        return row
    }

    /// The patient's open alerts as the queue holds them, most urgent first. Returns the next free row.
    private mutating func openAlerts(of patientID: String, y: Int) -> Int {
        guard case .alerts(let queue)? = state.stack.first, y < height - 3 else { return y }
        let open = queue.alerts.filter { $0.patientID == patientID && $0.isOpen }
        var row = y
        guard !open.isEmpty else {
            frame.put(t.text(.kioskOverviewNoAlerts), x: 1, y: row, role: .ok, maxWidth: width - 2)
            return row + 1
        }
        frame.put(t.text(.kioskOverviewOpenAlerts, String(open.count)), x: 1, y: row, role: .title, maxWidth: width - 2)
        row += 1
        // Room is kept for the answers' line below.
        for alert in open.prefix(max(1, height - row - 5)) where row < height - 3 {
            let label = priorityLabel(alert.priority)
            frame.put(label, x: 2, y: row, role: priorityRole(alert.priority))
            let timeText = ago(alert.raisedAt)
            let timeWidth = TextWidth.columns(of: timeText)
            frame.put(alert.summary, x: 12, y: row, role: .text, maxWidth: max(1, width - 12 - timeWidth - 3))
            frame.put(timeText, x: width - timeWidth - 2, y: row, role: .muted)
            row += 1
        }
        return row
    }
}

/// Where the overview's columns start: the kind's name, its latest value, when, then the chart of
/// one column a day.
struct OverviewColumns {
    let value: Int
    let when: Int
    let chart: Int
    let days = 30

    init(width: Int) {
        // Names of kinds are up to 19 columns ("Zuurstofverzadiging"), values up to 14 ("142/88 mmHg"),
        // times up to 12 ("23 Nov 07:31"). On a narrow screen the name gives way first.
        let nameWidth = max(10, min(21, width - 1 - 15 - 13 - days - 1))
        value = 1 + nameWidth
        when = value + 15
        chart = when + 13
    }
}
