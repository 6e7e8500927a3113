-- Argo CD health check for ecr.pullsecrets.io ClusterEcrRegistry (cluster-scoped: one pull secret in
-- every selected namespace). The same conditions as EcrRegistry; the messages add the namespace
-- counts and the failed namespaces from status.
-- Install: the key resource.customizations.health.ecr.pullsecrets.io_ClusterEcrRegistry in argocd-cm
-- (deploy/argocd/argocd-cm-patch.yaml holds this script, byte for byte).
--
-- Reads the operator's status, in this order:
--   metadata.deletionTimestamp set        -> Progressing, with the Deleting condition's message
--                                            (InUse: ImageImports in any namespace still use it).
--                                            Argo CD itself already reports "Pending deletion".
--   status.observedGeneration missing, -1,
--   or not metadata.generation            -> Progressing: waiting for the controller.
--   Stalled=True                          -> Degraded "<reason>: <message>; not served in F of S
--                                            selected namespaces: a (<reason>), b (<reason>), c
--                                            (<reason>) and N more" (from status.failedNamespaces):
--                                            a person must act (rejected credentials, invalid spec,
--                                            a Secret of that name it does not own, ...).
--   Ready=True                            -> Healthy "Pull secret <name> in R of S selected
--                                            namespaces, valid until <status.expirationTime>". When
--                                            Refreshed=False the token is still valid but its refresh
--                                            fails: still Healthy (Argo CD has no "healthy with a
--                                            warning"), and the message adds ", but refreshing it
--                                            fails: <reason>: <message>".
--   Reconciling=True                      -> Progressing "<reason>: <message>", with the failed
--                                            namespaces as above (retrying by itself).
--   Ready False or Unknown without
--   Stalled or Reconciling                -> Progressing "<reason>: <message>" (the Ready message
--                                            names the first failed namespaces itself).
--   no conditions yet                     -> Progressing.
-- Uses only Lua's base library: Argo CD runs these scripts without the string library.

local FAILED_SHOWN = 3

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

-- "; not served in 1 of 3 selected namespaces: team-b (PullSecretConflict)", or "" when none failed.
local function failedNamespaces(status)
  local failed = status.failedNamespaces or {}
  if #failed == 0 then
    return ""
  end
  local count = status.namespacesFailed or #failed
  local list = ""
  local shown = 0
  for _, f in ipairs(failed) do
    if shown == FAILED_SHOWN then
      break
    end
    if shown > 0 then
      list = list .. ", "
    end
    list = list .. tostring(f.namespace) .. " (" .. tostring(f.reason) .. ")"
    shown = shown + 1
  end
  if count > shown then
    list = list .. " and " .. tostring(count - shown) .. " more"
  end
  local of = ""
  if status.namespacesSelected ~= nil then
    of = " of " .. tostring(status.namespacesSelected)
  end
  return "; not served in " .. tostring(count) .. of .. " selected namespaces: " .. list
end

-- "Pull secret ecr-pull in 3 of 3 selected namespaces, valid until <time>", or the Ready message
-- when status lacks the counts.
local function served(status, ready)
  if status.namespacesReady == nil or status.namespacesSelected == nil or status.expirationTime == nil then
    return explain(ready)
  end
  local name = ""
  if status.pullSecretName ~= nil then
    name = " " .. status.pullSecretName
  end
  return "Pull secret" .. name .. " in " .. tostring(status.namespacesReady) .. " of " .. tostring(status.namespacesSelected) ..
    " selected namespaces, valid until " .. status.expirationTime
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
  return { status = "Degraded", message = explain(stalled) .. failedNamespaces(status) }
end

local ready = condition(conditions, "Ready")
if ready ~= nil and ready.status == "True" then
  local refreshed = condition(conditions, "Refreshed")
  if refreshed ~= nil and refreshed.status == "False" then
    return { status = "Healthy", message = served(status, ready) .. ", but refreshing it fails: " .. explain(refreshed) }
  end
  return { status = "Healthy", message = served(status, ready) }
end

local reconciling = condition(conditions, "Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  return { status = "Progressing", message = explain(reconciling) .. failedNamespaces(status) }
end
if ready ~= nil then
  return { status = "Progressing", message = explain(ready) }
end
return { status = "Progressing", message = "Waiting for the controller to report status" }
