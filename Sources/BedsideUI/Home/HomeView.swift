import BedsideCore
import Foundation

extension Painter {
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
            var detail = measuredAt(record)
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
            ? [.homeMenuAdd, .homeMenuHistory, .homeMenuSync, .homeMenuExport, .homeMenuLogout, .homeMenuQuit]
            : [.qMenuFill, .homeMenuAdd, .homeMenuHistory, .homeMenuSync, .homeMenuExport, .homeMenuLogout, .homeMenuQuit]
        for phrase in menu where row < height - 2 {
            frame.put(t.text(phrase), x: 3, y: row, role: .text)
            frame.put(String(t.text(phrase).prefix(1)), x: 3, y: row, role: .accent)
            row += 1
        }
        hints = (state.status.assignments.isEmpty ? "" : "f ") + "a h s e L q" + (state.status.rejected > 0 ? " n" : "")
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
}
