import ReflexServing

/// Everything `reflexd` is configured with (`etc/reflexd.yaml`, CONTRACT section 4), validated
/// and with relative paths resolved. Absent keys take the defaults documented on each field.
public struct DaemonConfig: Sendable, Equatable {
    /// The config file this came from, as named by the user (what SIGHUP reloads); nil when
    /// built in code.
    public var file: String?
    /// Absolute path of the model bundle directory. Required: there is no sensible default.
    public var model: String
    public var endpoints: EndpointsConfig
    public var budget: BudgetConfig
    public var scheduler: SchedulerConfig
    public var engine: EngineConfig
    public var limits: LimitsConfig
    public var logging: LoggingConfig
    public var security: SecurityConfig
    /// `/metrics` over HTTP; nil (the section absent) = off.
    public var metrics: MetricsConfig?
    /// The per-step trace; nil (the section absent) = off.
    public var trace: TraceConfig?

    public init(
        file: String? = nil,
        model: String,
        endpoints: EndpointsConfig = EndpointsConfig(),
        budget: BudgetConfig = BudgetConfig(),
        scheduler: SchedulerConfig = SchedulerConfig(),
        engine: EngineConfig = EngineConfig(),
        limits: LimitsConfig = LimitsConfig(),
        logging: LoggingConfig = LoggingConfig(),
        security: SecurityConfig = SecurityConfig(),
        metrics: MetricsConfig? = nil,
        trace: TraceConfig? = nil
    ) {
        self.file = file
        self.model = model
        self.endpoints = endpoints
        self.budget = budget
        self.scheduler = scheduler
        self.engine = engine
        self.limits = limits
        self.logging = logging
        self.security = security
        self.metrics = metrics
        self.trace = trace
    }
}
