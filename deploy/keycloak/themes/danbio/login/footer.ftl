<#--
  danbio: the footer at the bottom of the login box (keycloak.v2's template.ftl calls this macro on
  every page). On the password login pages it holds the blue "Glemt adgangskode?" link to the web
  UI's password reset by SMS code (requirement C2). Keycloak's own e-mail reset stays off (realm
  resetPasswordAllowed=false): one reset flow, not two.

  The web UI's address is not written here: it is the base URL of the web client, which every
  environment sets with the client's redirect addresses (realm file, the Kubernetes overlay's hosts,
  the test harness). When the login page is for another client, or the web client has no absolute
  base URL, there is no link rather than a wrong one.
-->
<#macro content>
  <#if (pageId!"") == "login" || (pageId!"") == "login-password">
    <#assign danbioWebUrl = "">
    <#if client?? && client.clientId == (properties.danbioWebClientId!"web")>
      <#assign danbioWebUrl = (client.baseUrl)!"">
    </#if>
    <#if danbioWebUrl?matches("https?://[^\\s]+")>
      <div id="danbio-password-reset" class="${properties.kcLoginMainFooterBand!}">
        <div class="${properties.kcLoginMainFooterBandItem!}">
          <a id="danbio-forgot-password" href="${danbioWebUrl?remove_ending("/")}/${properties.danbioPasswordResetPath!"glemt-adgangskode"}">${msg("danbioForgotPassword")}</a>
        </div>
      </div>
    </#if>
  </#if>
</#macro>
