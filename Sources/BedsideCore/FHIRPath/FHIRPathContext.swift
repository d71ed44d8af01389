/// What an expression is evaluated against: the resource, the node in it the expression is about,
/// the questionnaire, named variables, and the clock.
///
/// Nothing here reads the system: `today()` and `now()` come from `now` and `utcOffsetSeconds`.
public struct FHIRPathContext: Sendable {
    /// `%resource` (and `%rootResource`): for SDC, the QuestionnaireResponse being filled.
    public var resource: JSONValue
    /// `%context` and the initial `$this`: the node the expression is about (for an item-level SDC
    /// expression, the response item). `nil` means the resource itself.
    public var focus: [FHIRPathValue]?
    /// `%questionnaire`: the Questionnaire, which `ordinal()`/`weight()` consult for answer scores.
    public var questionnaire: JSONValue?
    /// `%qitem`: the Questionnaire item the expression belongs to.
    public var questionnaireItem: JSONValue?
    /// Named variables, without the `%`: `score` is `%score`. SDC `variable`s and launch contexts go
    /// here; one with the name of a built-in (`resource`, `context` …) replaces it.
    public var variables: [String: [FHIRPathValue]]
    /// The current time, milliseconds since 1970-01-01T00:00:00Z, for `now()`, `today()` and `timeOfDay()`.
    public var now: Int64
    /// The local offset from UTC, for `today()` and for date-times written without one.
    public var utcOffsetSeconds: Int

    public init(
        resource: JSONValue, focus: [FHIRPathValue]? = nil, questionnaire: JSONValue? = nil, questionnaireItem: JSONValue? = nil,
        variables: [String: [FHIRPathValue]] = [:], now: Int64, utcOffsetSeconds: Int = 0
    ) {
        self.resource = resource
        self.focus = focus
        self.questionnaire = questionnaire
        self.questionnaireItem = questionnaireItem
        self.variables = variables
        self.now = now
        self.utcOffsetSeconds = utcOffsetSeconds
    }

    /// `%resource` as a collection.
    var resourceValues: [FHIRPathValue] { FHIRPathValue.collection(from: resource, typeName: nil, linkId: nil, path: "%resource") }

    /// `%context` and the initial `$this`.
    var focusValues: [FHIRPathValue] { focus ?? resourceValues }
}
