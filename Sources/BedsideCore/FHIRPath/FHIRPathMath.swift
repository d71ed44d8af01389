#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The C math library's transcendental functions, for `exp() ln() log() power() sqrt()` on values
/// that exact decimal arithmetic cannot give.
enum FHIRPathMath {
    static func exponential(_ value: Double) -> Double { exp(value) }
    static func naturalLogarithm(_ value: Double) -> Double { log(value) }
    static func power(_ base: Double, _ exponent: Double) -> Double { pow(base, exponent) }
}
