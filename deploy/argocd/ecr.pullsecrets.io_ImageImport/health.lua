-- Argo CD health check for ecr.pullsecrets.io ImageImport.
-- Install: the key resource.customizations.health.ecr.pullsecrets.io_ImageImport in argocd-cm
-- (deploy/argocd/argocd-cm-patch.yaml holds this script, byte for byte).
--
-- Reads the operator's conditions, in this order:
--   metadata.deletionTimestamp set        -> Progressing, with the Deleting condition's message if
--                                            any. Argo CD itself already reports "Pending deletion".
--   status.observedGeneration missing, -1,
--   or not metadata.generation            -> Progressing: waiting for the controller.
--   Suspended=True                        -> Suspended: spec.importPolicy.suspend stops scheduled
--                                            imports (as Argo CD's Flux checks put suspend first).
--   Stalled=True                          -> Degraded "<reason>: <message>": a person must act
--                                            (repository or tag not found, access denied, ...).
--   Ready=True                            -> Healthy: every tag resolved.
--   Reconciling=True, or Ready False or
--   Unknown without Stalled               -> Progressing "<reason>: <message>" (e.g. waiting for
--                                            its EcrRegistry, or retrying a transient failure).
--   no conditions yet                     -> Progressing.
-- Uses only Lua's base library: Argo CD runs these scripts without the string library.

local function condition(conditions, type)
  for _, c in ipairs(conditions) do
    if c.type == type then
      return c
    end
  end
  return nil
end

local function explain(c)
  local reason = c.reason or ""
  local message = c.message or ""
  if reason == "" then
    return message
  end
  if message == "" then
    return reason
  end
  return reason .. ": " .. message
end

local status = obj.status or {}
local conditions = status.conditions or {}

if obj.metadata.deletionTimestamp ~= nil then
  local deleting = condition(conditions, "Deleting")
  if deleting ~= nil and deleting.status == "True" then
    return { status = "Progressing", message = explain(deleting) }
  end
  return { status = "Progressing", message = "Deleting" }
end

local generation = obj.metadata.generation
local observed = status.observedGeneration
if observed == nil or observed == -1 or (generation ~= nil and observed ~= generation) then
  return { status = "Progressing", message = "Waiting for the controller to observe generation " .. tostring(generation) }
end

local suspended = condition(conditions, "Suspended")
if suspended ~= nil and suspended.status == "True" then
  return { status = "Suspended", message = explain(suspended) }
end

local stalled = condition(conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  return { status = "Degraded", message = explain(stalled) }
end

local ready = condition(conditions, "Ready")
if ready ~= nil and ready.status == "True" then
  return { status = "Healthy", message = explain(ready) }
end

local reconciling = condition(conditions, "Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  return { status = "Progressing", message = explain(reconciling) }
end
if ready ~= nil then
  return { status = "Progressing", message = explain(ready) }
end
return { status = "Progressing", message = "Waiting for the controller to report status" }
