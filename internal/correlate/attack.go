package correlate

import "strings"

// Tactic is a MITRE ATT&CK enterprise tactic, by its short name.
type Tactic string

// The enterprise tactics in kill-chain order.
var killChain = [...]Tactic{
	"reconnaissance", "resource-development", "initial-access", "execution", "persistence",
	"privilege-escalation", "defense-evasion", "credential-access", "discovery",
	"lateral-movement", "collection", "command-and-control", "exfiltration", "impact",
}

// Phase returns the tactic's position in the kill chain, from 1
// (reconnaissance) to 14 (impact), or 0 for an unknown tactic.
func (t Tactic) Phase() int {
	for i, k := range killChain {
		if k == t {
			return i + 1
		}
	}
	return 0
}

// TacticOf returns the tactic a technique (or its parent, for a
// sub-technique like T1059.001) is placed under on a timeline, or "" when
// the technique is not in the table. A technique that serves several
// tactics is placed under the earliest in the kill chain: that is where an
// attack first needs it.
func TacticOf(technique string) Tactic {
	id := strings.ToUpper(strings.TrimSpace(technique))
	if i := strings.IndexByte(id, '.'); i >= 0 {
		id = id[:i]
	}
	return techniqueTactics[id]
}

// techniqueTactics maps ATT&CK enterprise technique ids (with a few
// retired ids rule sets still use) to their earliest tactic.
var techniqueTactics = func() map[string]Tactic {
	byTactic := map[Tactic]string{
		"reconnaissance":       "T1595 T1592 T1589 T1590 T1591 T1598 T1597 T1596 T1593 T1594",
		"resource-development": "T1583 T1586 T1584 T1587 T1585 T1588 T1608 T1650",
		"initial-access":       "T1189 T1190 T1133 T1200 T1566 T1091 T1195 T1199 T1078 T1659",
		"execution": "T1059 T1609 T1610 T1203 T1559 T1106 T1053 T1648 T1129 T1072 T1569 T1204 " +
			"T1047 T1651 T1086 T1064",
		"persistence": "T1098 T1197 T1547 T1037 T1176 T1554 T1136 T1543 T1546 T1574 T1525 T1556 " +
			"T1137 T1542 T1505 T1205 T1653 T1671",
		"privilege-escalation": "T1548 T1134 T1068 T1484 T1611 T1055",
		"defense-evasion": "T1612 T1622 T1140 T1006 T1480 T1211 T1222 T1564 T1562 T1070 T1202 " +
			"T1036 T1112 T1601 T1599 T1027 T1647 T1620 T1207 T1014 T1218 T1216 T1221 T1127 T1535 " +
			"T1550 T1497 T1600 T1220 T1578 T1656 T1672 T1085",
		"credential-access": "T1557 T1110 T1555 T1212 T1187 T1606 T1056 T1111 T1621 T1040 T1003 " +
			"T1528 T1649 T1558 T1539 T1552",
		"discovery": "T1087 T1010 T1217 T1580 T1538 T1526 T1619 T1613 T1652 T1482 T1083 T1615 " +
			"T1654 T1046 T1135 T1201 T1120 T1069 T1057 T1012 T1018 T1518 T1082 T1614 T1016 T1049 " +
			"T1033 T1007 T1124 T1673",
		"lateral-movement": "T1210 T1534 T1570 T1563 T1021 T1080",
		"collection": "T1560 T1123 T1119 T1185 T1115 T1530 T1602 T1213 T1005 T1039 T1025 T1074 " +
			"T1114 T1113 T1125",
		"command-and-control": "T1071 T1092 T1132 T1001 T1568 T1573 T1008 T1105 T1104 T1095 " +
			"T1571 T1572 T1090 T1219 T1102 T1665 T1043",
		"exfiltration": "T1020 T1030 T1048 T1041 T1011 T1052 T1567 T1029 T1537",
		"impact":       "T1531 T1485 T1486 T1565 T1491 T1561 T1667 T1499 T1657 T1495 T1490 T1498 T1496 T1489 T1529",
	}
	m := map[string]Tactic{}
	for tactic, ids := range byTactic {
		for _, id := range strings.Fields(ids) {
			m[id] = tactic
		}
	}
	return m
}()
