import BedsideCore
import Foundation

extension Painter {
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
}
