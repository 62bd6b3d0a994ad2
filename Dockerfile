# The gateway as a container image: `docker compose up` builds it (see docker-compose.yml and the README).
# Build stage: restore first (cached while only code changes), then publish the gateway alone.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /source
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
COPY src/Directory.Build.props src/
COPY src/Workflows/ApprovalEngine.Workflows.csproj src/Workflows/
COPY src/Activities/ApprovalEngine.Activities.csproj src/Activities/
COPY src/Notifiers/ApprovalEngine.Notifiers.csproj src/Notifiers/
COPY src/Gateway/ApprovalEngine.Gateway.csproj src/Gateway/
RUN dotnet restore src/Gateway/ApprovalEngine.Gateway.csproj
COPY src/ src/
RUN dotnet publish src/Gateway/ApprovalEngine.Gateway.csproj -c Release --no-restore -o /app

# Runtime stage: ASP.NET Core only, as a non-root user. Node.js is added for stdio upstreams started with npx.
FROM mcr.microsoft.com/dotnet/aspnet:10.0
RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app ./
ENV ASPNETCORE_URLS=http://+:8080 \
    ApprovalEngine__Config=/etc/approval-engine/gateway.yaml \
    DOTNET_NOLOGO=1
EXPOSE 8080
USER app
HEALTHCHECK --interval=10s --timeout=6s --start-period=20s --retries=3 CMD ["dotnet", "ApprovalEngine.Gateway.dll", "probe"]
ENTRYPOINT ["dotnet", "ApprovalEngine.Gateway.dll"]
