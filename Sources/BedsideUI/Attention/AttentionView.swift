import BedsideCore
import Foundation

extension Painter {
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
                summary = "\(t.kindName(record.kind)): \(value(record)), \(measuredAt(record))"
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
}
