import BedsideCore
import Foundation

extension Painter {
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
}
