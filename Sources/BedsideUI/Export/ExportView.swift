import BedsideCore

extension Painter {
    mutating func export(_ form: ExportForm) {
        title(t.text(.exportTitle))
        var row = paragraph(t.text(.exportIntro), y: top + 2) + 1
        guard row < height - 2 else { return }
        frame.put(TextWidth.truncate(t.text(.exportFormat), to: 19), x: 2, y: row)
        var x = 22
        for format in [PatientDataExport.Format.csv, .fhir] {
            let label = t.text(format == .csv ? .exportFormatCSV : .exportFormatFHIR)
            let shown = (format == form.format ? "(•) " : "( ) ") + label
            frame.put(shown, x: x, y: row, role: format == form.format ? .selection : .text, maxWidth: max(0, width - x - 1))
            x += TextWidth.columns(of: shown) + 3
        }
        row += 2
        field(t.text(.exportFile), form.path, y: row, focused: true, boxWidth: 48)
        hints = t.text(.exportHint)
    }
}
