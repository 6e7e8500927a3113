-- Argo CD health check for ecr.pullsecrets.io EcrRegistry.
-- Install: the key resource.customizations.health.ecr.pullsecrets.io_EcrRegistry in argocd-cm
-- (deploy/argocd/argocd-cm-patch.yaml holds this script, byte for byte).
--
-- Reads the operator's conditions, in this order:
--   metadata.deletionTimestamp set        -> Progressing, with the Deleting condition's message
--                                            (e.g. ImageImports still use the registry).
--                                            Argo CD itself already reports "Pending deletion".
--   status.observedGeneration missing, -1,
--   or not metadata.generation            -> Progressing: waiting for the controller.
--   Stalled=True                          -> Degraded "<reason>: <message>": a person must act
--                                            (rejected credentials, invalid spec, conflict, ...).
--   Ready=True                            -> Healthy: the pull secret holds a valid token. When
--                                            Refreshed=False the token is still valid but its refresh
--                                            fails: still Healthy (Argo CD has no "healthy with a
--                                            warning"), and the message says why.
--   Reconciling=True, or Ready False or
--   Unknown without Stalled               -> Progressing "<reason>: <message>" (retrying by itself).
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

local stalled = condition(conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  return { status = "Degraded", message = explain(stalled) }
end

local ready = condition(conditions, "Ready")
if ready ~= nil and ready.status == "True" then
  local refreshed = condition(conditions, "Refreshed")
  if refreshed ~= nil and refreshed.status == "False" then
    return { status = "Healthy", message = "The served token is still valid, but refreshing it fails: " .. explain(refreshed) }
  end
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
