import BedsideCore
import Foundation

extension Painter {
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
        case .export: text.append(t.text(.helpExport))
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
