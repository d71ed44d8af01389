import BedsideCore

/// Keys on a questionnaire page. Pure: changes the session; the runtime saves the draft (encrypted)
/// after every accepted answer and sends the response after the review.
extension QuestionnaireSession {
    /// What a key asks the app to do beyond changing the session.
    public enum Outcome: Sendable, Equatable {
        case none
        /// An answer was accepted: keep the draft.
        case changed
        /// The patient leaves the form (the draft stays).
        case leave
        /// The patient sends the form.
        case submit
    }

    public mutating func handle(_ key: Key, language: Language) -> Outcome {
        switch key {
        case .escape: return .leave
        case .pageUp, .backTab:
            go(to: pageIndex - 1)
            return .none
        case .pageDown:
            go(to: pageIndex + 1)
            return .none
        default: break
        }
        switch page {
        case .display:
            if key == .enter || key == .character(" ") || key == .tab { go(to: pageIndex + 1) }
            return .none
        case .addAnother(let group):
            if key == .character("y") || key == .character("j") || key == .character("Y") || key == .character("J") {
                var steps = group.steps
                steps[steps.count - 1].repetition += 1
                ResponseTree.ensure(ItemPath(steps), in: &answers)
                recalculate()
                // The new repetition's pages now stand where this page was.
                go(to: pageIndex)
                return .changed
            }
            if key == .enter || key == .character("n") || key == .character("N") || key == .tab { go(to: pageIndex + 1) }
            return .none
        case .review:
            switch key {
            case .up: cursor = max(0, cursor - 1)
            case .down: cursor += 1
            case .enter:
                if let first = missing.first {
                    problem = first.message
                    return .none
                }
                return .submit
            default: break
            }
            return .none
        case .question(let path):
            guard let item = definition(path) else { return .none }
            return answerKey(key, item: item, path: path, language: language)
        }
    }

    private mutating func answerKey(_ key: Key, item: QuestionnaireItem, path: ItemPath, language: Language) -> Outcome {
        if item.isWorkedOut || item.type == .attachment || item.type == .reference {
            if key == .enter || key == .tab { go(to: pageIndex + 1) }
            return .none
        }
        switch item.type {
        case .boolean:
            switch key {
            case .up, .down, .left, .right, .character(" "): cursor = cursor == 0 ? 1 : 0
            case .character("y"), .character("j"), .character("Y"), .character("J"): return accept([.boolean(true)])
            case .character("n"), .character("N"): return accept([.boolean(false)])
            case .enter, .tab: return accept([.boolean(cursor == 0)])
            case .delete, .backspace: return accept([])
            default: break
            }
            return .none
        case .choice, .openChoice:
            return choiceKey(key, item: item, language: language)
        default:
            if key == .enter || key == .tab {
                let typed = field.text.trimmingCharacters(in: " ")
                if typed.isEmpty { return accept([]) }
                do {
                    let value = try AnswerParser(questionnaire: questionnaire, valueSets: valueSets).value(
                        Self.json(typed, for: item, language: language), for: item)
                    return accept([value])
                } catch {
                    problem = error.message.replacingOccurrences(of: "Item \(item.linkId): ", with: "")
                    return .none
                }
            }
            _ = field.handle(key)
            problem = nil
            return .none
        }
    }

    private mutating func choiceKey(_ key: Key, item: QuestionnaireItem, language: Language) -> Outcome {
        let options = self.options(for: item) ?? []
        // An open choice, or a value set that cannot be resolved, has a free-text line after the options.
        let hasOther = item.type == .openChoice || self.options(for: item) == nil
        let rows = options.count + (hasOther ? 1 : 0)
        let onOther = hasOther && cursor == options.count
        switch key {
        case .up: cursor = max(0, cursor - 1)
        case .down: cursor = min(max(0, rows - 1), cursor + 1)
        case .character(" ") where !onOther:
            if item.repeats {
                if checked.contains(cursor) { checked.remove(cursor) } else { checked.insert(cursor) }
            } else {
                checked = [cursor]
            }
        case .character(let character) where !onOther && character.isNumber:
            if let number = character.wholeNumberValue, (1...rows).contains(number) {
                cursor = number - 1
                if !item.repeats, number <= options.count { return accept([options[number - 1].value]) }
            }
        case .enter, .tab:
            var values: [AnswerValue]
            if item.repeats {
                values = checked.sorted().filter { $0 < options.count }.map { options[$0].value }
            } else {
                values = cursor < options.count ? [options[cursor].value] : []
            }
            let other = field.text.trimmingCharacters(in: " ")
            if hasOther, !other.isEmpty, item.repeats || onOther { values.append(.string(other)) }
            if !item.repeats, onOther, other.isEmpty { values = [] }
            return accept(values)
        case .delete where !onOther:
            checked = []
            return accept([])
        default:
            if onOther {
                _ = field.handle(key)
                problem = nil
            }
        }
        return .none
    }

    /// Stores the answers and moves on, or stays with the reason.
    private mutating func accept(_ values: [AnswerValue]) -> Outcome {
        guard commit(values) else { return .none }
        go(to: pageIndex + 1)
        return .changed
    }

    /// Typed text as the JSON an `AnswerParser` reads for the item's type (numbers in the patient's way).
    static func json(_ typed: String, for item: QuestionnaireItem, language: Language) -> JSONValue {
        switch item.type {
        case .decimal, .integer, .quantity:
            if let number = language.parseNumber(typed) { return .number(number) }
            return .string(typed)
        default:
            return .string(typed)
        }
    }
}
