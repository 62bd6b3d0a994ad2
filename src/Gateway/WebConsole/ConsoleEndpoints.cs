using Microsoft.Net.Http.Headers;

namespace ApprovalEngine.Gateway.WebConsole;

/// <summary>
/// The web console at <c>/console/</c>: static files from the assembly, anonymous (the page asks for the person's API
/// token and sends it to the API itself). A path without a file extension is one of the page's own views, such as
/// <c>/console/approvals/{id}</c> (the link on Slack and Teams cards), and gets the page.
/// </summary>
public static class ConsoleEndpoints
{
    public const string BasePath = "/console/";

    // No inline script or style, nothing from another origin, no framing; connect-src covers the API and its stream.
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; font-src 'self'; "
        + "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

    public static IEndpointRouteBuilder MapConsole(this IEndpointRouteBuilder endpoints)
    {
        // Read at mapping time, so a console left out of the build stops the start instead of failing per request.
        var files = ConsoleFiles.Load(typeof(ConsoleEndpoints).Assembly);

        endpoints.MapGet("/", (HttpContext context) => Results.Redirect(context.Request.PathBase + BasePath)).ExcludeFromDescription();
        endpoints.MapMethods("/console/{**path}", [HttpMethods.Get, HttpMethods.Head], (string? path, HttpContext context) => Serve(files, path ?? "", context))
            .ExcludeFromDescription();
        return endpoints;
    }

    private static Task Serve(ConsoleFiles files, string path, HttpContext context)
    {
        var response = context.Response;

        // Routing ignores a trailing slash, so "/console" lands here too; the page's relative links need the slash.
        if (!context.Request.Path.Value!.EndsWith('/') && path.Length == 0)
        {
            response.Redirect(context.Request.PathBase + BasePath);
            return Task.CompletedTask;
        }

        var headers = response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        headers.XFrameOptions = "DENY";

        if (!files.TryGet(path, out var file))
        {
            if (IsFileName(path))
            {
                response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            }

            file = files.Index;
        }

        // File names carry no version, so browsers revalidate every time and get 304 while the file is the same.
        headers.ETag = file.ETag;
        headers.CacheControl = "no-cache";
        if (Matches(context.Request.GetTypedHeaders().IfNoneMatch, file.ETag))
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return Task.CompletedTask;
        }

        response.ContentType = file.ContentType;
        response.ContentLength = file.Content.Length;
        return HttpMethods.IsHead(context.Request.Method) ? Task.CompletedTask : response.Body.WriteAsync(file.Content, context.RequestAborted).AsTask();
    }

    private static bool IsFileName(string path) => path[(path.LastIndexOf('/') + 1)..].Contains('.', StringComparison.Ordinal);

    private static bool Matches(IList<EntityTagHeaderValue> ifNoneMatch, string etag)
    {
        var current = new EntityTagHeaderValue(etag);
        return ifNoneMatch.Any(tag => tag.Equals(EntityTagHeaderValue.Any) || tag.Compare(current, useStrongComparison: false));
    }
}
