/// One item of a Questionnaire, with what rendering, validation and enableWhen need read out of it.
/// `source` keeps the item as written, so nothing the form says is lost.
public struct QuestionnaireItem: Sendable, Equatable {
    public enum ItemType: Sendable, Equatable {
        case group, display, boolean, decimal, integer, date, dateTime, time, string, text, url, choice, openChoice, quantity
        case attachment, reference, question
        /// A type this version of FHIR does not have; the item is shown as text and cannot be answered.
        case unknown(String)

        init(_ code: String) {
            switch code {
            case "group": self = .group
            case "display": self = .display
            case "boolean": self = .boolean
            case "decimal": self = .decimal
            case "integer": self = .integer
            case "date": self = .date
            case "dateTime": self = .dateTime
            case "time": self = .time
            case "string": self = .string
            case "text": self = .text
            case "url": self = .url
            case "choice", "coding": self = .choice
            case "open-choice": self = .openChoice
            case "quantity": self = .quantity
            case "attachment": self = .attachment
            case "reference": self = .reference
            case "question": self = .question
            default: self = .unknown(code)
            }
        }

        /// Whether the item takes answers (groups and display text do not).
        public var isQuestion: Bool {
            switch self {
            case .group, .display, .unknown: false
            default: true
            }
        }
    }

    /// One allowed answer.
    public struct AnswerOption: Sendable, Equatable {
        public var value: AnswerValue
        public var initialSelected: Bool
        /// `ordinalValue` / `itemWeight`: the option's score.
        public var score: Double?
    }

    /// `enableWhen`: show this item only when another item's answer compares so.
    public struct EnableCondition: Sendable, Equatable {
        public enum Operator: String, Sendable {
            case exists, equal = "=", notEqual = "!=", greater = ">", less = "<", greaterOrEqual = ">=", lessOrEqual = "<="
        }

        public var question: String
        public var `operator`: Operator
        public var answer: AnswerValue?
        /// `answerBoolean` for `exists`.
        public var exists: Bool?
    }

    public var linkId: String
    public var text: String?
    public var prefix: String?
    public var type: ItemType
    public var required: Bool
    public var repeats: Bool
    public var readOnly: Bool
    public var maxLength: Int?
    public var answerOptions: [AnswerOption]
    /// The canonical URL (or `#id` of a contained ValueSet) the answers come from.
    public var answerValueSet: String?
    public var initial: [AnswerValue]
    public var enableWhen: [EnableCondition]
    /// `all` (the default) or `any`.
    public var enableWhenAny: Bool
    public var items: [QuestionnaireItem]
    /// `text` in other languages, from the translation extension: language code -> text.
    public var translations: [String: String]
    public var extensions: ItemExtensions
    /// The item as written.
    public var source: JSONValue

    /// The item in another language when the form has it, else as written.
    public func text(in language: String?) -> String? {
        guard let language else { return text }
        if let exact = translations[language] { return exact }
        let base = language.split(separator: "-").first.map(String.init) ?? language
        return translations.first { $0.key.split(separator: "-").first.map(String.init) == base }?.value ?? text
    }

    /// Every item below this one, depth first.
    public var descendants: [QuestionnaireItem] { items.flatMap { [$0] + $0.descendants } }
}

/// The SDC and core extensions on an item that change how it is shown or checked.
public struct ItemExtensions: Sendable, Equatable {
    public var hidden = false
    /// `questionnaire-itemControl` code: drop-down, radio-button, check-box, slider, autocomplete …
    public var itemControl: String?
    public var minValue: AnswerValue?
    public var maxValue: AnswerValue?
    public var maxDecimalPlaces: Int?
    public var regex: String?
    public var entryFormat: String?
    /// SDC `validationtext`: what to tell the patient when an answer does not match `regex`.
    public var validationText: String?
    /// `questionnaire-unit`: the unit of a decimal or integer.
    public var unit: AnswerValue.Coding?
    /// `questionnaire-unitOption`: the units a quantity may be given in.
    public var unitOptions: [AnswerValue.Coding] = []
    /// `sdc-questionnaire-calculatedExpression` (FHIRPath).
    public var calculatedExpression: String?
    /// `variable` (FHIRPath), in order: name and expression.
    public var variables: [Variable] = []
    /// `sdc-questionnaire-enableWhenExpression` (FHIRPath).
    public var enableWhenExpression: String?
    /// Extensions Bedside does not act on (ignored safely), by URL.
    public var ignored: [String] = []

    public struct Variable: Sendable, Equatable {
        public var name: String
        public var expression: String
    }

    public init() {}
}
