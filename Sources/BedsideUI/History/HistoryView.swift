import BedsideCore
import Foundation

extension Painter {
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
            frame.put(measuredAt(record, full: true), x: 2, y: row, role: role)
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
    mutating func historyChart(_ list: HistoryList, below row: Int) {
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
        line(t.text(.fieldTime), measuredAt(record, full: true))
        line("", stateLabel(record), role: record.syncState == .synced ? .ok : .warning)
        if let note = record.note { line(t.text(.fieldNote), note) }
        hints = record.syncState == .pending || record.syncState == .rejected ? t.text(.detailHint) : t.text(.detailHintSent)
    }

    mutating func confirmDelete(_ record: MeasurementRecord) {
        title(t.text(.deleteTitle))
        var row = top + 2
        frame.put("\(t.kindName(record.kind)): \(value(record)), \(measuredAt(record))", x: 3, y: row, role: .accent, maxWidth: width - 4)
        row += 2
        paragraph(record.syncState == .synced ? t.text(.deleteSent) : t.text(.deleteUnsent), y: row, role: .warning)
        hints = t.text(.deleteHint)
    }
}
