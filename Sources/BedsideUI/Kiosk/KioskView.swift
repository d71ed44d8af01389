import BedsideCore

/// The kiosk's screens. Priority is always shown by symbol and word as well as colour, so no one needs
/// to tell red from orange (the colour-blind theme and NO_COLOR lose nothing).
extension Painter {
    func priorityLabel(_ priority: AlertPriority) -> String {
        switch priority {
        case .red: "▲ " + t.text(.kioskPriorityRed)
        case .orange: "◆ " + t.text(.kioskPriorityOrange)
        case .gray: "○ " + t.text(.kioskPriorityGray)
        }
    }

    func priorityRole(_ priority: AlertPriority) -> StyleRole {
        switch priority {
        case .red: .priorityRed
        case .orange: .priorityOrange
        case .gray: .priorityGray
        }
    }

    /// What the header's right side says in the kiosk: how many open alerts of each priority.
    func kioskCounts() -> String? {
        guard case .alerts(let queue)? = state.stack.first, queue.loaded else { return nil }
        let counts = queue.openCounts(at: state.now)
        return t.text(.headerAlerts, String(counts[.red] ?? 0), String(counts[.orange] ?? 0), String(counts[.gray] ?? 0))
    }

    mutating func alerts(_ queue: AlertQueue) {
        let shown = queue.shown(at: state.now)
        title(t.text(.kioskTitle) + (queue.loaded ? " (\(shown.count))" : ""))
        let priority = queue.filter.priority.map { priorityLabel($0) } ?? t.text(.kioskAllPriorities)
        let status: String = switch queue.filter.status {
        case .open: t.text(.kioskStatusOpen)
        case .snoozed: t.text(.kioskStatusSnoozed)
        case .handled: t.text(.kioskStatusHandled)
        case .all: t.text(.kioskStatusAll)
        }
        let showing = t.text(.kioskShowing, priority, status) + (queue.filter.myPatientsOnly ? ", " + t.text(.kioskMyPatients) : "")
        frame.put(showing, x: 1, y: top + 1, role: .muted, maxWidth: width - 2)
        hints = t.text(.kioskHintQueue)
        var row = top + 3
        guard queue.loaded else {
            frame.put(t.text(.kioskLoading), x: 3, y: row, role: .muted)
            return
        }
        guard !shown.isEmpty else {
            frame.put(t.text(.kioskEmpty), x: 3, y: row, role: .ok)
            return
        }
        let visible = max(1, height - row - 3)
        let selected = shown.firstIndex { $0.id == queue.selectedID } ?? 0
        let first = max(0, min(selected - visible / 2, shown.count - visible))
        let nameWidth = min(22, max(12, width / 4))
        let labelWidth = 10
        for (index, alert) in shown.enumerated().dropFirst(first).prefix(visible) {
            let isSelected = index == selected
            if isSelected { frame.fill(role: .selection, x: 1, y: row, width: width - 2) }
            frame.put(priorityLabel(alert.priority), x: 2, y: row, role: isSelected ? .selection : priorityRole(alert.priority))
            frame.put(TextWidth.truncate(alert.patientName, to: nameWidth - 1), x: 2 + labelWidth, y: row, role: isSelected ? .selection : .text)
            var summary = alert.summary
            if alert.escalated { summary = "[\(t.text(.kioskEscalated))] " + summary }
            let timeText = ago(alert.raisedAt)
            let timeWidth = TextWidth.columns(of: timeText)
            let summaryX = 2 + labelWidth + nameWidth
            frame.put(summary, x: summaryX, y: row, role: isSelected ? .selection : .text, maxWidth: max(1, width - summaryX - timeWidth - 3))
            frame.put(timeText, x: width - timeWidth - 2, y: row, role: isSelected ? .selection : .muted)
            row += 1
        }
        if first + visible < shown.count { frame.put("↓", x: 0, y: row - 1, role: .muted) }
        if first > 0 { frame.put("↑", x: 0, y: top + 3, role: .muted) }
    }

    mutating func alertDetail(_ alert: KioskAlert) {
        title(alert.patientName)
        var row = top + 2
        var line = priorityLabel(alert.priority)
        if alert.escalated { line += "  [\(t.text(.kioskEscalated))]" }
        if !alert.isOpen { line += "  (\(t.text(.kioskStatusHandled)))" }
        if let until = alert.snoozedUntil, alert.isSnoozed(at: state.now) { line += "  (\(t.text(.kioskSnoozedUntil, when(until))))" }
        frame.put(line, x: 1, y: row, role: priorityRole(alert.priority), maxWidth: width - 2)
        row += 1
        frame.put(t.text(.kioskRaised, ago(alert.raisedAt)), x: 1, y: row, role: .muted, maxWidth: width - 2)
        row += 1
        // Who to call, beside why: age, phone number and care programme.
        if let contact = contactLine(alert.contact) {
            frame.put(contact, x: 1, y: row, role: .accent, maxWidth: width - 2)
            row += 1
        }
        row += 1
        // The triggering values, one reason per line, as the server's rule wrote them (inert text).
        for reason in alert.summary.split(separator: ";").map({ String($0).trimmingCharacters(in: Character(" ")) }) {
            row = paragraph("• " + reason, y: row, role: .text, indent: 2)
        }
        if let context = state.alertContext, context.patientID == alert.patientID {
            row = alertContext(context, y: row + 1)
        }
        if !alert.notes.isEmpty {
            row += 1
            frame.put(t.text(.kioskNotes), x: 1, y: row, role: .title)
            row += 1
            for note in alert.notes.suffix(max(1, (height - row - 3) / 2)) {
                let header = [note.author, note.time.map { when($0) }].compactMap { $0 }.joined(separator: ", ")
                row = paragraph("\(header): \(note.text)", y: row, role: .muted, indent: 2)
            }
        }
        hints = t.text(alert.isOpen ? .kioskHintDetail : .kioskHintClosed)
    }

    mutating func triage(_ form: TriageForm) {
        let name = form.alert.patientName
        let heading: String
        switch form.action {
        case .handle: heading = t.text(.kioskActionHandle, name)
        case .escalate: heading = t.text(.kioskActionEscalate, name)
        case .snooze(let until): heading = t.text(.kioskActionSnooze, String((until - state.now + 1_800_000) / 3_600_000), name)
        case .note: heading = t.text(.kioskActionNote, name)
        }
        title(heading)
        var row = top + 2
        frame.put(priorityLabel(form.alert.priority), x: 1, y: row, role: priorityRole(form.alert.priority))
        row = paragraph(form.alert.summary, y: row + 1, role: .text, indent: 2) + 1
        field(t.text(.kioskNote), form.note, y: row, focused: true, labelWidth: 8, boxWidth: max(20, width - 14))
        if case .snooze = form.action { hints = t.text(.kioskHintSnooze) } else { hints = t.text(.kioskHintTriage) }
    }

    mutating func triageConflict(_ current: KioskAlert, _ attempted: AlertTriage) {
        title(t.text(.kioskConflictTitle))
        var state = [priorityLabel(current.priority)]
        state.append(current.isOpen ? t.text(.kioskStatusOpen) : t.text(.kioskStatusHandled))
        if current.escalated { state.append(t.text(.kioskEscalated)) }
        var row = paragraph(t.text(.kioskConflictBody, state.joined(separator: ", ")), y: top + 2, role: .warning) + 1
        row = paragraph(current.patientName + ": " + current.summary, y: row, role: .text) + 1
        if let last = current.notes.last {
            row = paragraph("\(last.author): \(last.text)", y: row, role: .muted, indent: 2) + 1
        }
        if !attempted.note.isEmpty { row = paragraph("› " + attempted.note, y: row, role: .accent, indent: 2) + 1 }
        paragraph(t.text(.kioskConflictQuestion), y: row, role: .title)
        hints = t.text(.kioskConflictHint)
    }

    /// The patient's last 30 days of the alerted kind as a chart, and their latest answers.
    private mutating func alertContext(_ context: AlertContext, y: Int) -> Int {
        var row = y
        if let kind = context.kind, let part = kind.parts.first {
            let values: [(at: Int64, value: Double)] = context.readings.compactMap { record in
                // Only finite values are charted: a server's "1e400" parses as infinity, which has no height.
                guard let literal = record.values.first(where: { $0.part == part })?.literal, let value = Double(literal), value.isFinite
                else { return nil }
                return (record.effectiveAt, value)
            }
            let present = values.map(\.value)
            if let low = present.min(), let high = present.max() {
                let unit = part.displayUnit
                let range = "\(state.language.number(format(low)))–\(state.language.number(format(high))) \(unit)"
                frame.put(t.text(.kioskChartTitle, t.kindName(kind), range), x: 1, y: row, role: .title, maxWidth: width - 2)
                row += 1
                let daily = TextChart.daily(values, days: 30, endingAt: state.now, zone: state.zone)
                let lines = TextChart.render(daily, rows: 3)
                let labels = [format(high), "", format(low)]
                for (index, line) in lines.enumerated() where row < height - 3 {
                    let label = state.language.number(labels[index])
                    frame.put(String(repeating: " ", count: max(0, 6 - label.count)) + label + " ┤", x: 1, y: row, role: .muted)
                    frame.put(line, x: 9, y: row, role: .accent)
                    row += 1
                }
                frame.put(t.text(.kioskChartAxis), x: 9, y: row, role: .muted, maxWidth: width - 10)
                row += 1
            } else {
                frame.put(t.text(.kioskChartNone, t.kindNameInText(kind)), x: 1, y: row, role: .muted, maxWidth: width - 2)
                row += 1
            }
        }
        if !context.answers.isEmpty, row < height - 4 {
            let list = context.answers.prefix(3).map { "\($0.title) (\(when($0.authored)))" }.joined(separator: ", ")
            row = paragraph(t.text(.kioskRecentAnswers, list), y: row, role: .muted)
        }
        return row
    }

    private func format(_ value: Double) -> String {
        DecimalText.oneDecimal(value)
    }
}
