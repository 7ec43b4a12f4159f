import DeskEngine
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

extension DeskService {
    /// The Hummingbird application: the HTTP server plus the projections and the escalation timer as
    /// services of one ServiceGroup (SIGTERM / SIGINT: stop accepting, finish in-flight requests, stop
    /// the services, then return; the caller then closes the log, which finishes queued commits).
    public func application(logger: Logger = Logger(label: "helpdesk")) -> some ApplicationProtocol {
        var services: [any Service] = [ProjectionService(runner: runner),
                                       EscalationService(timer: EscalationTimer(processor: processor, clock: clock))]
        if let sender { services.append(MailSenderService(sender: sender)) }
        return Application(router: router(),
                           configuration: .init(address: .hostname(options.host, port: options.port), serverName: "helpdesk"),
                           services: services,
                           logger: logger)
    }
}
