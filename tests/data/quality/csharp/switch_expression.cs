// Valid C# 8: a switch expression and a property pattern (Mono's `mcs --parse` reports 6 errors here).
using System;

class Shapes
{
    static string Describe(int sides) => sides switch
    {
        3 => "triangle",
        4 => "square",
        _ => "polygon",
    };

    static bool IsNamed(object value) => value is string { Length: > 0 };
}
