import BedsideCore
import Foundation

extension Painter {
    mutating func login(_ form: LoginForm) {
        title(t.text(.loginTitle))
        var row = paragraph(t.text(.loginIntro), y: top + 2) + 1
        row = field(t.text(.fieldServer), form.server, y: row, focused: form.focus == 0, boxWidth: 44)
        row = field(t.text(.fieldEmail), form.email, y: row, focused: form.focus == 1, boxWidth: 44)
        field(t.text(.fieldPassword), form.password, y: row, focused: form.focus == 2, boxWidth: 44)
        hints = "\(t.text(.keyNextField))  \(t.text(.keyContinue))  Esc\(t.text(.keyQuit).drop { $0 != ":" })"
    }

    mutating func code(_ field: TextField) {
        title(t.text(.codeTitle))
        let row = paragraph(t.text(.codeIntro, state.session?.email ?? emailOnLoginForm()), y: top + 2) + 1
        self.field(t.text(.fieldCode), field, y: row, focused: true, boxWidth: 8)
        hints = "\(t.text(.keyContinue))  \(t.text(.codeResend))"
    }

    private func emailOnLoginForm() -> String {
        for screen in state.stack.reversed() {
            if case .login(let form) = screen { return form.email.text }
        }
        return ""
    }

    mutating func unlock(_ field: TextField) {
        title(t.text(.unlockTitle))
        let row = paragraph(t.text(.unlockIntro), y: top + 2) + 1
        self.field(t.text(.fieldPassword), field, y: row, focused: true, boxWidth: 32)
        hints = "\(t.text(.keyContinue))  Esc\(t.text(.keyQuit).drop { $0 != ":" })"
    }

    mutating func home() {
        let today = state.language.date(epochMilliseconds: state.now, utcOffsetSeconds: state.utcOffsetSeconds)
        title("\(t.text(.homeTitle)), \(today)")
        var row = top + 2
        frame.put(t.text(.homeLastValues), x: 1, y: row, role: .title)
        row += 1
        let nameWidth = min(24, max(12, width / 4))
        var due: [MeasurementKind] = []
        for kind in addableKinds where row < height - 10 {
            guard let record = state.status.latest[kind] else {
                continue
            }
            frame.put(TextWidth.truncate(t.kindName(kind), to: nameWidth - 1), x: 3, y: row)
            let valueText = value(record)
            frame.put(valueText, x: 3 + nameWidth, y: row, role: .accent)
            // In the time zone it was measured in, as the history shows it.
            var detail = when(record.effectiveAt, utcOffsetSeconds: record.utcOffsetSeconds)
            if record.syncState == .pending { detail += " (\(t.text(.stateUnsent)))" }
            frame.put(detail, x: 3 + nameWidth + max(18, TextWidth.columns(of: valueText) + 2), y: row, role: .muted,
                maxWidth: width - (3 + nameWidth + 18) - 1)
            if !isToday(record.effectiveAt) { due.append(kind) }
            row += 1
        }
        if state.status.latest.isEmpty {
            frame.put(t.text(.homeNoValue), x: 3, y: row, role: .muted)
            row += 1
        }
        row += 1
        frame.put(t.text(.homeDueTitle), x: 1, y: row, role: .title)
        row += 1
        if state.sync.needsLogin {
            frame.put("• " + t.text(.homeNeedsLogin), x: 3, y: row, role: .warning, maxWidth: width - 4)
            row += 1
        }
        if state.status.rejected > 0 {
            frame.put("• " + t.text(.homeAttention, String(state.status.rejected)), x: 3, y: row, role: .warning, maxWidth: width - 4)
            row += 1
        }
        if let offset = state.status.clockOffset, offset.magnitude >= clockWarningThreshold.magnitude {
            // magnitude, not abs(): abs(Int64.min) traps.
            row = paragraph("• " + t.text(.homeClockWrong, duration(Int64(clamping: offset.magnitude))), y: row, role: .warning, indent: 3)
        }
        // Questionnaires first: the care team asked for them, overdue ones most of all.
        for assignment in state.status.assignments.prefix(3) where row < height - 8 {
            row = paragraph("• " + assignmentLine(assignment), y: row, role: assignment.isOverdue(at: state.now) ? .warning : .accent, indent: 3)
        }
        if state.status.assignments.count > 3 {
            frame.put("  … +\(state.status.assignments.count - 3)", x: 3, y: row, role: .muted)
            row += 1
        }
        if due.isEmpty && state.status.rejected == 0 && !state.sync.needsLogin && state.status.assignments.isEmpty {
            frame.put(t.text(.homeDueNothing), x: 3, y: row, role: .ok)
            row += 1
        }
        for kind in due where row < height - 8 {
            frame.put("• " + t.text(.homeDueMeasure, t.kindNameInText(kind)), x: 3, y: row, role: .warning)
            row += 1
        }
        row += 1
        let menu: [Phrase] = state.status.assignments.isEmpty
            ? [.homeMenuAdd, .homeMenuHistory, .homeMenuSync, .homeMenuLogout, .homeMenuQuit]
            : [.qMenuFill, .homeMenuAdd, .homeMenuHistory, .homeMenuSync, .homeMenuLogout, .homeMenuQuit]
        for phrase in menu where row < height - 2 {
            frame.put(t.text(phrase), x: 3, y: row, role: .text)
            frame.put(String(t.text(phrase).prefix(1)), x: 3, y: row, role: .accent)
            row += 1
        }
        hints = (state.status.assignments.isEmpty ? "" : "f ") + "a h s L q" + (state.status.rejected > 0 ? " n" : "")
            + (state.sync.needsLogin ? " i" : "")
    }

    /// "Fill in: PHQ-9 (overdue since 14 Jan, started)".
    func assignmentLine(_ assignment: Assignment) -> String {
        var details: [String] = []
        if let due = assignment.due {
            let day = state.language.date(epochMilliseconds: due, utcOffsetSeconds: state.zone.offset(at: due))
            details.append(t.text(assignment.isOverdue(at: state.now) ? .qOverdue : .qDue, day))
        }
        if assignment.started { details.append(t.text(.qStarted)) }
        return t.text(.qFillIn, assignment.title) + (details.isEmpty ? "" : " (" + details.joined(separator: ", ") + ")")
    }

    mutating func chooseQuestionnaire(_ selection: Int) {
        title(t.text(.qChooseTitle))
        var row = top + 2
        for (index, assignment) in state.status.assignments.enumerated() where row < height - 3 {
            let selected = index == selection
            if selected { frame.fill(role: .selection, x: 1, y: row, width: width - 2) }
            let number = index < 9 ? "\(index + 1)  " : "   "
            frame.put(number + assignmentLine(assignment), x: 2, y: row,
                role: selected ? .selection : (assignment.isOverdue(at: state.now) ? .warning : .text), maxWidth: width - 4)
            row += 1
        }
        hints = t.text(.qChooseHint)
    }

    /// A clock this far from the server's gets a warning: measurement times would be off.
    var clockWarningThreshold: Int64 { 5 * 60_000 }

    mutating func attention(_ list: AttentionList) {
        title(t.text(.attentionTitle) + (list.items.isEmpty ? "" : " (\(list.items.count))"))
        var row = paragraph(t.text(.attentionIntro), y: top + 2, role: .muted) + 1
        if list.items.isEmpty {
            frame.put(list.loading ? "…" : t.text(.attentionEmpty), x: 3, y: row, role: list.loading ? .muted : .ok)
            hints = t.text(.keyBack)
            return
        }
        for (index, item) in list.items.enumerated() where row < height - 4 {
            let selected = index == list.selected
            if selected { frame.fill(role: .selection, x: 1, y: row, width: width - 2) }
            var summary: String
            switch item.subject {
            case .measurement(let record):
                summary = "\(t.kindName(record.kind)): \(value(record)), \(when(record.effectiveAt, utcOffsetSeconds: record.utcOffsetSeconds))"
            case .response(_, let title):
                summary = t.text(.attentionAnswers, title)
            }
            if item.isWithdrawal { summary += " (\(t.text(.attentionWithdrawal)))" }
            frame.put(summary, x: 2, y: row, role: selected ? .selection : .accent, maxWidth: width - 4)
            row += 1
            // The server's words, inert, wrapped under the measurement they concern.
            row = paragraph(t.text(.attentionReason, item.reason), y: row, role: selected ? .warning : .muted, indent: 4)
        }
        if list.confirmingDiscard, let item = list.current {
            let question = item.record == nil
                ? t.text(.attentionDiscardAnswers) : (item.isWithdrawal ? t.text(.attentionDiscardWithdrawal) : t.text(.attentionDiscard))
            paragraph(question, y: max(row, height - 4), role: .warning)
            hints = t.text(item.record == nil ? .attentionDraftHint : .deleteHint)
        } else {
            hints = t.text(.attentionHint)
        }
    }

    mutating func reauth(_ field: TextField) {
        title(t.text(.reauthTitle))
        let row = paragraph(t.text(.reauthIntro, state.session?.email ?? "", String(state.status.unsent)), y: top + 2) + 1
        self.field(t.text(.fieldPassword), field, y: row, focused: true, boxWidth: 32)
        hints = "\(t.text(.keyContinue))  \(t.text(.keyBack))"
    }


    mutating func chooseKind(_ selection: Int) {
        title(t.text(.chooseKindTitle))
        for (index, kind) in addableKinds.enumerated() where top + 2 + index < height - 2 {
            let row = top + 2 + index
            let selected = index == selection
            frame.put("  \(index + 1)  \(t.kindName(kind))", x: 1, y: row, role: selected ? .selection : .text, maxWidth: width - 2)
            if selected { frame.fill(role: .selection, x: 1, y: row, width: min(40, width - 2)) }
        }
        hints = t.text(.chooseKindHint)
    }

    mutating func form(_ form: MeasurementForm) {
        title(t.text(.addTitle, t.kindName(form.kind)))
        var row = top + 2
        for (index, id) in form.ids.enumerated() {
            let label: String
            var suffix = ""
            switch id {
            case .value(let part):
                label = t.text(part.phrase) + (form.optionalParts.contains(part) ? " (\(t.text(.optional)))" : "")
                suffix = part.displayUnit
            case .time:
                label = t.text(.fieldTime)
                suffix = "YYYY-MM-DD HH:MM"
            case .note:
                label = t.text(.fieldNote) + " (\(t.text(.optional)))"
            }
            let box = id == .note ? 44 : (id == .time ? 17 : 8)
            row = field(label, form.fields[index], y: row, focused: form.focus == index, labelWidth: 28, boxWidth: box, suffix: suffix)
        }
        if let message = form.message, state.message == nil {
            paragraph(message, y: min(row + 1, height - 3), role: .error)
        }
        hints = t.text(.addHint)
    }

    mutating func confirmUnusual(_ record: MeasurementRecord, _ unusual: [MeasurementForm.Unusual]) {
        title(t.text(.unusualTitle))
        var row = top + 2
        for item in unusual {
            let part = item.part
            row = paragraph(
                t.text(
                    .unusualBody, "\(state.language.number(item.literal)) \(part.displayUnit)", t.kindName(record.kind).lowercased(),
                    state.language.number(MeasurementForm.format(part.typicalRange.lowerBound)),
                    state.language.number(MeasurementForm.format(part.typicalRange.upperBound)), part.displayUnit),
                y: row, role: .warning) + 1
        }
        hints = t.text(.unusualHint)
    }

    mutating func history(_ list: HistoryList) {
        let count = list.total > 0 ? "  (\(t.text(.historyCount, String(min(list.selected + 1, list.total)), String(list.total))))" : ""
        title(t.text(.historyTitle, t.kindName(list.kind)) + count)
        let first = top + 2
        let visible = HistoryLayout.visibleRows(height: height)
        if list.items.isEmpty {
            frame.put(list.loading ? "…" : t.text(.historyEmpty), x: 3, y: first, role: .muted)
        }
        let dateWidth = 20
        let valueWidth = 24
        for offset in 0..<visible {
            let index = list.top + offset
            guard list.items.indices.contains(index) else { break }
            let record = list.items[index]
            let row = first + offset
            let selected = index == list.selected
            let role: StyleRole = selected ? .selection : .text
            if selected { frame.fill(role: .selection, x: 1, y: row, width: width - 2) }
            frame.put(state.language.dateTime(epochMilliseconds: record.effectiveAt, utcOffsetSeconds: record.utcOffsetSeconds), x: 2, y: row, role: role)
            frame.put(value(record), x: 2 + dateWidth, y: row, role: selected ? .selection : .accent, maxWidth: valueWidth)
            let stateText = stateLabel(record)
            let stateRole: StyleRole = selected ? .selection : (record.syncState == .synced ? .muted : .warning)
            frame.put(stateText, x: 2 + dateWidth + valueWidth, y: row, role: stateRole, maxWidth: 16)
            if let note = record.note {
                let x = 2 + dateWidth + valueWidth + 16
                frame.put(TextWidth.truncate(note, to: max(0, width - x - 2)), x: x, y: row, role: selected ? .selection : .muted)
            }
        }
        // Right under the readings shown (a short list leaves no gap above its chart).
        historyChart(list, below: first + min(visible, max(0, list.items.count - list.top)) + 1)
        hints = t.text(.historyHint)
    }

    /// The trend of the readings on screen, under the list.
    private mutating func historyChart(_ list: HistoryList, below row: Int) {
        guard HistoryLayout.chartLines(height: height) > 0 else { return }
        let shown = Array(list.items.dropFirst(list.top).prefix(HistoryLayout.visibleRows(height: height)))
        guard shown.count >= 2, let chart = HistoryChart(shown, kind: list.kind, language: state.language) else { return }
        frame.put(t.text(.historyTrend, String(shown.count), chart.range), x: 2, y: row, role: .muted, maxWidth: width - 4)
        for (offset, line) in chart.lines(width: width - 6).enumerated() {
            frame.put(line, x: 4, y: row + 1 + offset, role: .accent)
        }
    }

    mutating func detail(_ record: MeasurementRecord) {
        title("\(t.text(.detailTitle)): \(t.kindName(record.kind))")
        var row = top + 2
        func line(_ label: String, _ text: String, role: StyleRole = .text) {
            guard row < height - 2 else { return }
            frame.put(label, x: 3, y: row, role: .muted)
            row = paragraph(text, y: row, role: role, indent: 24)
        }
        line(t.text(.partValue), value(record), role: .accent)
        line(t.text(.fieldTime), state.language.dateTime(epochMilliseconds: record.effectiveAt, utcOffsetSeconds: record.utcOffsetSeconds))
        line("", stateLabel(record), role: record.syncState == .synced ? .ok : .warning)
        if let note = record.note { line(t.text(.fieldNote), note) }
        hints = record.syncState == .pending || record.syncState == .rejected ? t.text(.detailHint) : t.text(.detailHintSent)
    }

    mutating func confirmDelete(_ record: MeasurementRecord) {
        title(t.text(.deleteTitle))
        var row = top + 2
        frame.put("\(t.kindName(record.kind)): \(value(record)), \(when(record.effectiveAt, utcOffsetSeconds: record.utcOffsetSeconds))", x: 3, y: row, role: .accent, maxWidth: width - 4)
        row += 2
        paragraph(record.syncState == .synced ? t.text(.deleteSent) : t.text(.deleteUnsent), y: row, role: .warning)
        hints = t.text(.deleteHint)
    }

    mutating func logout() {
        title(t.text(.logoutTitle))
        var row = top + 2
        if state.status.unsent > 0 {
            row = paragraph(t.text(.logoutUnsentWarning, String(state.status.unsent)), y: row, role: .warning) + 1
            hints = t.text(.logoutHintUnsent)
        } else {
            hints = t.text(.logoutHint)
        }
        paragraph(t.text(.logoutQuestion), y: row)
    }

    mutating func help() {
        let boxWidth = min(width - 4, 70)
        let x = (width - boxWidth) / 2
        var text = [t.text(.helpGeneral)]
        switch state.screen {
        case .login, .code, .unlock: text.append(t.text(.helpLogin))
        case .home, .chooseKind, .logout: text.append(t.text(.helpHome))
        case .form, .confirmUnusual: text.append(t.text(.helpForm))
        case .history, .detail, .confirmDelete: text.append(t.text(.helpHistory))
        case .attention: text.append(t.text(.helpAttention))
        case .reauth: text.append(t.text(.helpLogin))
        case .questionnaire, .chooseQuestionnaire: text.append(t.text(.helpQuestionnaire))
        case .alerts, .alertDetail, .patientOverview, .triage, .triageConflict: text.append(t.text(.helpKiosk))
        }
        var lines: [String] = []
        for paragraph in text { lines += TextWidth.wrap(paragraph, width: boxWidth - 4) + [""] }
        lines.append(t.text(.helpClose))
        let boxHeight = min(height - 4, lines.count + 4)
        let y = max(1, (height - boxHeight) / 2)
        for row in y..<(y + boxHeight) {
            frame.put(String(repeating: " ", count: boxWidth), x: x, y: row, role: .text)
        }
        let horizontal = String(repeating: "─", count: boxWidth - 2)
        frame.put("┌" + horizontal + "┐", x: x, y: y, role: .border)
        frame.put("└" + horizontal + "┘", x: x, y: y + boxHeight - 1, role: .border)
        for row in (y + 1)..<(y + boxHeight - 1) {
            frame.put("│", x: x, y: row, role: .border)
            frame.put("│", x: x + boxWidth - 1, y: row, role: .border)
        }
        frame.put(" " + t.text(.helpTitle) + " ", x: x + 2, y: y, role: .title)
        for (index, line) in lines.enumerated() where y + 2 + index < y + boxHeight - 1 {
            frame.put(line, x: x + 2, y: y + 2 + index, role: index == lines.count - 1 ? .muted : .text)
        }
        frame.cursor = nil
    }
}
