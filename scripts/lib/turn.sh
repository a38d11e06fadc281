#!/usr/bin/env bash
# bbb-web's TURN servers, for the node steps. Sourced after common.sh, never run.

# shellcheck disable=SC2034 # used by the scripts that source this file
TURN_XML="$ROOT/etc/bigbluebutton/turn-stun-servers.xml"

# turn_servers_xml HOST SECRET LABEL: the file `bbb-install.sh` writes (configure_coturn at the pinned
# commits: turn:HOST:3478 and turns:HOST:443 with the coturn secret; bbb-web reads it at start). LABEL
# says in a comment whose TURN server it is.
turn_servers_xml() {
  local host="$1" secret="$2" label="$3"
  cat <<XML
<?xml version="1.0" encoding="UTF-8"?>
<beans xmlns="http://www.springframework.org/schema/beans"
        xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
        xsi:schemaLocation="http://www.springframework.org/schema/beans
        http://www.springframework.org/schema/beans/spring-beans-2.5.xsd">
    <!-- Written by bbb-ovh ($STEP_NAME.sh) for $label $host. -->
    <bean id="turn0" class="org.bigbluebutton.web.services.turn.TurnServer">
        <constructor-arg index="0" value="$secret"/>
        <constructor-arg index="1" value="turn:$host:3478"/>
        <constructor-arg index="2" value="86400"/>
    </bean>
    <bean id="turn1" class="org.bigbluebutton.web.services.turn.TurnServer">
        <constructor-arg index="0" value="$secret"/>
        <constructor-arg index="1" value="turns:$host:443?transport=tcp"/>
        <constructor-arg index="2" value="86400"/>
    </bean>
    <bean id="stunTurnService" class="org.bigbluebutton.web.services.turn.StunTurnService">
        <property name="stunServers">
            <set>
            </set>
        </property>
        <property name="turnServers">
            <set>
                <ref bean="turn0"/>
                <ref bean="turn1"/>
            </set>
        </property>
    </bean>
</beans>
XML
}

# check_turn_inputs: TURN_HOST comes with TURN_SECRET, and the secret can stand in the XML attribute
# above (base64 and the like).
check_turn_inputs() {
  if [[ -n "${IN_TURN_HOST:-}" && -z "${IN_TURN_SECRET:-}" ]]; then
    die "TURN_HOST is set but TURN_SECRET is missing"
  fi
  [[ "${IN_TURN_SECRET:-}" =~ ^[A-Za-z0-9+/=_.-]*$ ]] || die "TURN_SECRET has characters that do not fit an XML attribute"
}
