import DeskEngine
import Foundation
import Hummingbird
import Logging

extension DeskService {
    /// The Hummingbird application: the HTTP server plus the projections and the escalation timer as
    /// services of one ServiceGroup (SIGTERM / SIGINT: stop accepting, finish in-flight requests, stop
    /// the services, then return; the caller then closes the log, which finishes queued commits).
    public func application(logger: Logger = Logger(label: "helpdesk")) -> some ApplicationProtocol {
        Application(router: router(),
                    configuration: .init(address: .hostname(options.host, port: options.port), serverName: "helpdesk"),
                    services: [ProjectionService(runner: runner),
                               EscalationService(timer: EscalationTimer(processor: processor, clock: clock))],
                    logger: logger)
    }
}
