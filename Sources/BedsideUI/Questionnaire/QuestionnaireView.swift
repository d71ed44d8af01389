import BedsideCore

/// Draws a questionnaire page: the question with its context and rules, the answer area, the reason
/// an answer was refused, and the review of every answer before sending. Long text wraps; long
/// option lists scroll with the cursor. Text from the form is shown inert (Frame sanitises it).
extension Painter {
    mutating func questionnaire(_ session: QuestionnaireSession) {
        // The pages follow from the answers; work them out once per frame.
        let pages = session.pages
        let index = min(session.pageIndex, pages.count - 1)
        let title = session.questionnaire.displayTitle
        let (number, count) = QuestionnaireSession.progress(of: pages, at: index)
        let progress = count > 0 ? t.text(.qProgress, String(min(max(number, 1), count)), String(count)) : ""
        frame.put(" " + TextWidth.truncate(title, to: max(1, width - TextWidth.columns(of: progress) - 4)), x: 0, y: top, role: .title)
        frame.put(progress + " ", x: max(0, width - TextWidth.columns(of: progress) - 1), y: top, role: .muted)
        // A bar: how far through the pages the patient is.
        let barWidth = max(4, min(40, width - 4))
        let done = pages.count > 1 ? barWidth * index / (pages.count - 1) : barWidth
        frame.put(String(repeating: "━", count: done) + String(repeating: "─", count: barWidth - done), x: 1, y: top + 1, role: .accent)
        var row = top + 3
        switch pages[index] {
        case .question(let path):
            guard let item = session.definition(path) else { return }
            row = heading(session, path: path, item: item, y: row)
            row = answerArea(session, item: item, path: path, y: row + 1)
            hints = questionHints(item)
        case .display(let path):
            guard let item = session.definition(path) else { return }
            row = heading(session, path: path, item: item, y: row)
            hints = t.text(.qHintDisplay)
        case .addAnother(let group):
            let name = session.definition(group).flatMap { $0.text(in: session.language) } ?? group.linkId
            row = paragraph(t.text(.qAddAnother, name), y: row, role: .title)
            hints = t.text(.qHintAddAnother)
        case .review:
            row = review(session, pages: pages, y: row)
            hints = t.text(.qHintReview)
        }
        if let problem = session.problem { paragraph(problem, y: min(row + 1, height - 3), role: .error) }
    }

    /// Context, prefix and text, and the rules of the item. Returns the next free row.
    private mutating func heading(_ session: QuestionnaireSession, path: ItemPath, item: QuestionnaireItem, y: Int) -> Int {
        var row = y
        let context = session.context(of: path)
        if !context.isEmpty {
            row = paragraph(context.joined(separator: " › "), y: row, role: .muted)
        }
        let text = [item.prefix, item.text(in: session.language)].compactMap { $0 }.joined(separator: " ")
        row = paragraph(text.isEmpty ? item.linkId : text, y: row, role: item.type.isQuestion ? .text : .muted)
        var rules: [String] = []
        if item.required { rules.append(t.text(.qRequired)) }
        if let unit = item.extensions.unit { rules.append(t.text(.qUnit, unit.display ?? unit.code ?? "")) }
        if let low = item.extensions.minValue, let high = item.extensions.maxValue {
            rules.append(t.text(.qRange, state.language.number(low.text), state.language.number(high.text)))
        }
        if let format = item.extensions.entryFormat { rules.append(t.text(.qFormat, format)) }
        if !rules.isEmpty { row = paragraph(rules.joined(separator: " · "), y: row, role: .muted) }
        return row
    }

    private mutating func answerArea(_ session: QuestionnaireSession, item: QuestionnaireItem, path: ItemPath, y: Int) -> Int {
        var row = y
        if item.type == .attachment || item.type == .reference {
            return paragraph(t.text(.qNotInTerminal), y: row, role: .warning)
        }
        if item.isWorkedOut {
            let current = session.shownAnswers(at: path).map(answerText).joined(separator: ", ")
            return paragraph(current.isEmpty ? "—" : current, y: row, role: .accent)
        }
        switch item.type {
        case .boolean:
            for (index, label) in [t.text(.qYes), t.text(.qNo)].enumerated() where row < height - 3 {
                let selected = index == session.cursor
                if selected { frame.fill(role: .selection, x: 2, y: row, width: min(30, width - 4)) }
                frame.put("\(session.checked.contains(index) ? "(•)" : "( )") \(label)", x: 3, y: row, role: selected ? .selection : .text)
                row += 1
            }
            return row
        case .choice, .openChoice:
            let options = session.options(for: item) ?? []
            let hasOther = item.type == .openChoice || session.options(for: item) == nil
            if session.options(for: item) == nil { row = paragraph(t.text(.qValueSetMissing), y: row, role: .warning) }
            let rows = options.count + (hasOther ? 1 : 0)
            // Keep the cursor in view when the list is longer than the screen.
            let visible = max(1, height - row - 4)
            let first = max(0, min(session.cursor - visible / 2, rows - visible))
            if first > 0 { frame.put("↑", x: 1, y: row, role: .muted) }
            for index in first..<min(rows, first + visible) {
                let selected = index == session.cursor
                if index < options.count {
                    let mark = item.repeats ? (session.checked.contains(index) ? "[x]" : "[ ]") : (session.checked.contains(index) ? "(•)" : "( )")
                    let number = index < 9 ? "\(index + 1) " : "  "
                    if selected { frame.fill(role: .selection, x: 2, y: row, width: width - 4) }
                    frame.put("\(number)\(mark) \(options[index].value.text)", x: 3, y: row,
                        role: selected ? .selection : .text, maxWidth: width - 5)
                    row += 1
                } else {
                    row = field(t.text(.qOther), session.field, y: row, focused: selected, labelWidth: 10, boxWidth: 40)
                }
            }
            if first + visible < rows { frame.put("↓", x: 1, y: row - 1, role: .muted) }
            return row
        default:
            let unit = item.extensions.unit.map { $0.display ?? $0.code ?? "" } ?? item.extensions.unitOptions.first.map { $0.display ?? $0.code ?? "" } ?? ""
            let box = item.type == .text ? width - 20 : (item.type == .string || item.type == .url ? 44 : 20)
            return field(t.text(.qAnswer), session.field, y: row, focused: true, labelWidth: 10, boxWidth: box, suffix: unit)
        }
    }

    /// An answer as the patient reads it: yes and no in their language.
    private func answerText(_ value: AnswerValue) -> String {
        if case .boolean(let flag) = value { return t.text(flag ? .qYes : .qNo) }
        return value.text
    }

    private func questionHints(_ item: QuestionnaireItem) -> String {
        if item.isWorkedOut || item.type == .attachment || item.type == .reference { return t.text(.qHintDisplay) }
        switch item.type {
        case .boolean: return t.text(.qHintBoolean)
        case .choice, .openChoice: return t.text(item.repeats ? .qHintChoiceMany : .qHintChoice)
        default: return t.text(.qHintText)
        }
    }

    /// Every enabled question with its answer; what is missing is marked. Scrolls with ↑ ↓.
    private mutating func review(_ session: QuestionnaireSession, pages: [QuestionnaireSession.Page], y: Int) -> Int {
        frame.put(" " + t.text(.qReviewTitle), x: 0, y: y, role: .title)
        var lines: [(String, String, StyleRole)] = []
        let missing = Set(session.missing.map(\.linkId))
        for page in pages {
            guard case .question(let path) = page, let item = session.definition(path) else { continue }
            let answer = session.shownAnswers(at: path).map(answerText).joined(separator: ", ")
            let question = [item.prefix, item.text(in: session.language)].compactMap { $0 }.joined(separator: " ")
            if missing.contains(item.linkId) {
                lines.append((question, t.text(.qReviewMissing), .error))
            } else {
                lines.append((question, answer.isEmpty ? t.text(.qReviewNone) : answer, answer.isEmpty ? .muted : .accent))
            }
        }
        var row = y + 2
        let questionWidth = max(10, width * 3 / 5 - 2)
        for (question, answer, role) in lines.dropFirst(min(session.cursor, max(0, lines.count - 1))) where row < height - 4 {
            frame.put(TextWidth.truncate(question, to: questionWidth), x: 2, y: row, role: .text)
            frame.put(TextWidth.truncate(answer, to: max(4, width - questionWidth - 5)), x: questionWidth + 4, y: row, role: role)
            row += 1
        }
        return row
    }
}
